//! [`VNode`]s as one compact program for the DOM builder
//! (`src/ui/dom_build.js`), so a frame's new blocks cross from wasm to
//! the page in one call: one array of numbers and one string, instead of
//! a call (and a string decode) per element, attribute and text.
//!
//! The program is a list of `u32` codes:
//!
//! | code | followed by | meaning |
//! |---|---|---|
//! | `TEXT` | length | a text node: the next `length` UTF-16 units of the text |
//! | `OPEN` | tag, n, n × (attribute, length) | an element; each value is the next `length` units of the text |
//! | `CLOSE` | | the element is complete |
//!
//! Tags and attributes are indexes into [`Tag::ALL`] and [`Attr::ALL`],
//! whose names the builder gets from [`names`]: it can only make elements
//! and attributes from those closed lists, and text is only ever text.

use std::sync::OnceLock;

use super::vnode::{Attr, Tag, VNode};

pub const TEXT: u32 = 0;
pub const OPEN: u32 = 1;
pub const CLOSE: u32 = 2;

/// A program for the DOM builder.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Ops {
    pub codes: Vec<u32>,
    pub text: String,
}

impl Ops {
    pub fn new() -> Self {
        Self::default()
    }

    /// The program for `nodes`, in order.
    pub fn of(nodes: &[VNode]) -> Self {
        let mut ops = Self::new();
        nodes.iter().for_each(|n| ops.node(n));
        ops
    }

    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    /// Appends the program for `node` and its subtree.
    pub fn node(&mut self, node: &VNode) {
        match node {
            VNode::Text(t) => {
                self.codes.push(TEXT);
                self.push_text(t);
            }
            VNode::El(e) => {
                self.codes.push(OPEN);
                self.codes.push(e.tag as u32);
                self.codes.push(e.attrs.len() as u32);
                for (attr, value) in &e.attrs {
                    self.codes.push(*attr as u32);
                    self.push_text(value);
                }
                e.children.iter().for_each(|c| self.node(c));
                self.codes.push(CLOSE);
            }
            VNode::Shared(n) => self.node(n),
        }
    }

    /// `s`'s length in UTF-16 units (what JavaScript's `slice` counts),
    /// then `s` itself.
    fn push_text(&mut self, s: &str) {
        let units = if s.is_ascii() {
            s.len()
        } else {
            s.encode_utf16().count()
        };
        self.codes.push(units as u32);
        self.text.push_str(s);
    }
}

/// The tag names, then the attribute names, each list comma-separated,
/// the two lists separated by `|`, in the order of their indexes.
pub fn names() -> &'static str {
    static NAMES: OnceLock<String> = OnceLock::new();
    NAMES.get_or_init(|| {
        let tags: Vec<_> = Tag::ALL.iter().map(|t| t.name()).collect();
        let attrs: Vec<_> = Attr::ALL.iter().map(|a| a.name()).collect();
        format!("{}|{}", tags.join(","), attrs.join(","))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::markdown::render::render;
    use crate::markdown::vnode::{to_html, Element};

    /// What the DOM builder does with a program, written the same way in
    /// Rust, producing escaped HTML instead of DOM.
    fn run(ops: &Ops) -> Result<String, String> {
        let names = names();
        let (tags, attrs) = names.split_once('|').ok_or("no |")?;
        let tags: Vec<&str> = tags.split(',').collect();
        let attrs: Vec<&str> = attrs.split(',').collect();
        let units: Vec<u16> = ops.text.encode_utf16().collect();
        let mut pos = 0;
        let mut take = |n: u32| -> Result<String, String> {
            let end = pos + n as usize;
            let s = String::from_utf16(units.get(pos..end).ok_or("text too short")?)
                .map_err(|e| e.to_string())?;
            pos = end;
            Ok(s)
        };
        let mut codes = ops.codes.iter().copied();
        let mut next = || codes.next().ok_or("program ends early");
        let mut out = String::new();
        let mut open: Vec<&str> = Vec::new();
        let escape = |s: &str| to_html(&[VNode::text(s)]);
        while let Ok(op) = next() {
            match op {
                TEXT => out.push_str(&escape(&take(next()?)?)),
                OPEN => {
                    let tag = tags[next()? as usize];
                    out.push('<');
                    out.push_str(tag);
                    for _ in 0..next()? {
                        let attr = attrs[next()? as usize];
                        let value = take(next()?)?;
                        out.push_str(&format!(" {attr}=\"{}\"", escape(&value)));
                    }
                    out.push('>');
                    open.push(tag);
                }
                CLOSE => {
                    let tag = open.pop().ok_or("close without open")?;
                    if !matches!(tag, "br" | "hr" | "input") {
                        out.push_str(&format!("</{tag}>"));
                    }
                }
                other => return Err(format!("unknown code {other}")),
            }
        }
        if !open.is_empty() {
            return Err("unclosed element".into());
        }
        if pos != units.len() {
            return Err("text left over".into());
        }
        Ok(out)
    }

    #[test]
    fn a_program_rebuilds_exactly_the_nodes() {
        let md =
            "# Title\n\nSome **bold** and *em*, `code`, a [link](https://example.com \"t\").\n\n\
                  - [x] done\n- two\n\n> quote\n\n| a | b |\n|---|--:|\n| 1 | 2 |\n\n---\n\n\
                  ```rust\nfn main() { println!(\"<hi>\"); }\n```\n";
        let nodes = render(md);
        assert_eq!(run(&Ops::of(&nodes)).unwrap(), to_html(&nodes));
    }

    #[test]
    fn lengths_count_utf16_units_so_any_text_survives() {
        // CJK (1 unit each), emoji (2 units), combining marks, quotes and
        // angle brackets, and empty attribute values.
        let p = Element::new(Tag::P)
            .attr(Attr::Class, "")
            .attr(Attr::Title, "标题 🦀 \"<x>\"")
            .child(VNode::text("中文 🎉👍🏽 é é <script>"))
            .child(Element::new(Tag::Br).into())
            .child(VNode::text("end"));
        let nodes = vec![p.into(), VNode::text("🦀")];
        let ops = Ops::of(&nodes);
        assert_eq!(run(&ops).unwrap(), to_html(&nodes));
        assert_eq!(
            ops.codes[..5],
            [OPEN, Tag::P as u32, 2, Attr::Class as u32, 0],
            "{ops:?}"
        );
    }

    #[test]
    fn an_empty_list_is_an_empty_program() {
        assert!(Ops::of(&[]).is_empty());
        assert!(!Ops::of(&[VNode::text("")]).is_empty());
    }

    #[test]
    fn names_follow_the_index_order() {
        let (tags, attrs) = names().split_once('|').unwrap();
        let tags: Vec<_> = tags.split(',').collect();
        let attrs: Vec<_> = attrs.split(',').collect();
        assert_eq!(tags.len(), Tag::ALL.len());
        assert_eq!(attrs.len(), Attr::ALL.len());
        assert_eq!(tags[Tag::Blockquote as usize], "blockquote");
        assert_eq!(tags[Tag::Button as usize], "button");
        assert_eq!(attrs[Attr::TestId as usize], "data-testid");
        assert_eq!(attrs[Attr::AriaLabel as usize], "aria-label");
        // No name could break the list apart.
        for name in tags.iter().chain(&attrs) {
            assert!(!name.is_empty() && !name.contains([',', '|']), "{name}");
        }
    }
}
