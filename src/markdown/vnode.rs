//! A tiny, closed description of the DOM that rendered markdown may
//! produce. Elements come from a fixed list of tags and attributes, and
//! text is always text: turning a `VNode` into DOM can never create a
//! script, an event handler or an unchecked URL.

#[cfg(test)]
use std::fmt::Write;
use std::sync::Arc;

/// Every element rendered markdown may contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tag {
    P,
    H1,
    H2,
    H3,
    H4,
    H5,
    H6,
    Blockquote,
    Ul,
    Ol,
    Li,
    Pre,
    Code,
    Div,
    Span,
    Em,
    Strong,
    Del,
    A,
    Br,
    Hr,
    Table,
    Thead,
    Tbody,
    Tr,
    Th,
    Td,
    Input,
    Button,
}

impl Tag {
    /// Every tag, in declaration order: `ALL[tag as usize] == tag`.
    pub const ALL: [Tag; 29] = [
        Tag::P,
        Tag::H1,
        Tag::H2,
        Tag::H3,
        Tag::H4,
        Tag::H5,
        Tag::H6,
        Tag::Blockquote,
        Tag::Ul,
        Tag::Ol,
        Tag::Li,
        Tag::Pre,
        Tag::Code,
        Tag::Div,
        Tag::Span,
        Tag::Em,
        Tag::Strong,
        Tag::Del,
        Tag::A,
        Tag::Br,
        Tag::Hr,
        Tag::Table,
        Tag::Thead,
        Tag::Tbody,
        Tag::Tr,
        Tag::Th,
        Tag::Td,
        Tag::Input,
        Tag::Button,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Tag::P => "p",
            Tag::H1 => "h1",
            Tag::H2 => "h2",
            Tag::H3 => "h3",
            Tag::H4 => "h4",
            Tag::H5 => "h5",
            Tag::H6 => "h6",
            Tag::Blockquote => "blockquote",
            Tag::Ul => "ul",
            Tag::Ol => "ol",
            Tag::Li => "li",
            Tag::Pre => "pre",
            Tag::Code => "code",
            Tag::Div => "div",
            Tag::Span => "span",
            Tag::Em => "em",
            Tag::Strong => "strong",
            Tag::Del => "del",
            Tag::A => "a",
            Tag::Br => "br",
            Tag::Hr => "hr",
            Tag::Table => "table",
            Tag::Thead => "thead",
            Tag::Tbody => "tbody",
            Tag::Tr => "tr",
            Tag::Th => "th",
            Tag::Td => "td",
            Tag::Input => "input",
            Tag::Button => "button",
        }
    }

    #[cfg(test)]
    fn is_void(self) -> bool {
        matches!(self, Tag::Br | Tag::Hr | Tag::Input)
    }
}

/// Every attribute rendered markdown may carry. `Href` values are only
/// ever set from [`super::links::safe_href`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attr {
    Class,
    Href,
    Title,
    Target,
    Rel,
    Start,
    Type,
    Checked,
    Disabled,
    Lang,
    TestId,
    Action,
    AriaLabel,
}

impl Attr {
    /// Every attribute, in declaration order: `ALL[attr as usize] == attr`.
    pub const ALL: [Attr; 13] = [
        Attr::Class,
        Attr::Href,
        Attr::Title,
        Attr::Target,
        Attr::Rel,
        Attr::Start,
        Attr::Type,
        Attr::Checked,
        Attr::Disabled,
        Attr::Lang,
        Attr::TestId,
        Attr::Action,
        Attr::AriaLabel,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Attr::Class => "class",
            Attr::Href => "href",
            Attr::Title => "title",
            Attr::Target => "target",
            Attr::Rel => "rel",
            Attr::Start => "start",
            Attr::Type => "type",
            Attr::Checked => "checked",
            Attr::Disabled => "disabled",
            Attr::Lang => "data-lang",
            Attr::TestId => "data-testid",
            Attr::Action => "data-action",
            Attr::AriaLabel => "aria-label",
        }
    }
}

#[derive(Debug, Clone)]
pub enum VNode {
    Text(String),
    El(Element),
    /// A subtree kept from an earlier render (a finished group of a code
    /// block that is still streaming): the view skips it when it holds
    /// the same one, without comparing what is inside.
    Shared(Arc<VNode>),
}

/// Equal when they show the same, whether shared or not; two handles on
/// one shared subtree are equal without a look inside.
impl PartialEq for VNode {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (VNode::Shared(a), VNode::Shared(b)) => Arc::ptr_eq(a, b) || **a == **b,
            (VNode::Shared(a), b) => **a == *b,
            (a, VNode::Shared(b)) => *a == **b,
            (VNode::Text(a), VNode::Text(b)) => a == b,
            (VNode::El(a), VNode::El(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for VNode {}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub tag: Tag,
    pub attrs: Vec<(Attr, String)>,
    pub children: Vec<VNode>,
}

impl Element {
    pub fn new(tag: Tag) -> Self {
        Self {
            tag,
            attrs: Vec::new(),
            children: Vec::new(),
        }
    }

    pub fn attr(mut self, attr: Attr, value: impl Into<String>) -> Self {
        self.attrs.push((attr, value.into()));
        self
    }

    pub fn child(mut self, node: VNode) -> Self {
        self.push(node);
        self
    }

    /// Appends a child, merging adjacent text so the DOM gets one text
    /// node where the parser produced several pieces.
    pub fn push(&mut self, node: VNode) {
        if let VNode::Text(t) = &node {
            if t.is_empty() {
                return;
            }
            if let Some(VNode::Text(last)) = self.children.last_mut() {
                last.push_str(t);
                return;
            }
        }
        self.children.push(node);
    }

    pub fn same_shell(&self, other: &Element) -> bool {
        self.tag == other.tag && self.attrs == other.attrs
    }
}

impl From<Element> for VNode {
    fn from(e: Element) -> Self {
        VNode::El(e)
    }
}

impl VNode {
    pub fn text(s: impl Into<String>) -> Self {
        VNode::Text(s.into())
    }

    /// The node itself, seen through any sharing.
    pub fn resolved(&self) -> &VNode {
        match self {
            VNode::Shared(n) => n.resolved(),
            n => n,
        }
    }

    /// The text content, as the DOM's `textContent` would give it.
    pub fn text_content(&self) -> String {
        let mut out = String::new();
        self.collect_text(&mut out);
        out
    }

    fn collect_text(&self, out: &mut String) {
        match self {
            VNode::Text(t) => out.push_str(t),
            VNode::El(e) => e.children.iter().for_each(|c| c.collect_text(out)),
            VNode::Shared(n) => n.collect_text(out),
        }
    }

    #[cfg(test)]
    /// Serialized with every text and attribute value escaped; used by
    /// tests and benchmarks, never fed to `innerHTML`.
    pub fn to_html(&self) -> String {
        let mut out = String::new();
        self.write_html(&mut out);
        out
    }

    #[cfg(test)]
    fn write_html(&self, out: &mut String) {
        match self {
            VNode::Text(t) => escape(t, out),
            VNode::Shared(n) => n.write_html(out),
            VNode::El(e) => {
                let _ = write!(out, "<{}", e.tag.name());
                for (a, v) in &e.attrs {
                    let _ = write!(out, " {}=\"", a.name());
                    escape(v, out);
                    out.push('"');
                }
                out.push('>');
                if !e.tag.is_void() {
                    e.children.iter().for_each(|c| c.write_html(out));
                    let _ = write!(out, "</{}>", e.tag.name());
                }
            }
        }
    }
}

#[cfg(test)]
pub fn to_html(nodes: &[VNode]) -> String {
    nodes.iter().map(VNode::to_html).collect()
}

#[cfg(test)]
fn escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lists_of_tags_and_attributes_are_complete_and_in_order() {
        for (i, t) in Tag::ALL.iter().enumerate() {
            assert_eq!(*t as usize, i, "{t:?}");
        }
        for (i, a) in Attr::ALL.iter().enumerate() {
            assert_eq!(*a as usize, i, "{a:?}");
        }
        // Each arm gives how many variants it lists; the match is
        // exhaustive, so a new variant does not compile until it is
        // counted here, and then fails until it is in ALL.
        let tags = |t: Tag| match t {
            Tag::P | Tag::H1 | Tag::H2 | Tag::H3 | Tag::H4 | Tag::H5 | Tag::H6 => 7,
            Tag::Blockquote | Tag::Ul | Tag::Ol | Tag::Li | Tag::Pre | Tag::Code => 6,
            Tag::Div | Tag::Span | Tag::Em | Tag::Strong | Tag::Del | Tag::A | Tag::Br => 7,
            Tag::Hr | Tag::Table | Tag::Thead | Tag::Tbody | Tag::Tr | Tag::Th | Tag::Td => 7,
            Tag::Input | Tag::Button => 2,
        };
        let arms = [Tag::P, Tag::Blockquote, Tag::Div, Tag::Hr, Tag::Input];
        assert_eq!(arms.map(tags).iter().sum::<usize>(), Tag::ALL.len());
        let attrs = |a: Attr| match a {
            Attr::Class | Attr::Href | Attr::Title | Attr::Target | Attr::Rel | Attr::Start => 6,
            Attr::Type | Attr::Checked | Attr::Disabled | Attr::Lang | Attr::TestId => 5,
            Attr::Action | Attr::AriaLabel => 2,
        };
        let arms = [Attr::Class, Attr::Type, Attr::Action];
        assert_eq!(arms.map(attrs).iter().sum::<usize>(), Attr::ALL.len());
    }

    #[test]
    fn adjacent_text_merges_and_html_is_escaped() {
        let mut p = Element::new(Tag::P);
        p.push(VNode::text("a <b>"));
        p.push(VNode::text(""));
        p.push(VNode::text(" & \"c\""));
        assert_eq!(p.children.len(), 1);
        let a = Element::new(Tag::A).attr(Attr::Href, "https://x/?a=1&b=\"2\"");
        p.push(a.into());
        assert_eq!(
            VNode::El(p).to_html(),
            "<p>a &lt;b&gt; &amp; &quot;c&quot;<a href=\"https://x/?a=1&amp;b=&quot;2&quot;\"></a></p>"
        );
    }
}
