//! Markdown to [`VNode`]s, one per top-level block, with where each block
//! starts in the source. Raw HTML is kept as text, links are checked by
//! [`safe_href`], code blocks are highlighted and get a copy button.

use std::sync::Arc;

use pulldown_cmark::{Alignment, CodeBlockKind, Event, HeadingLevel, Options, Parser, TagEnd};

use super::highlight;
use super::links::safe_href;
use super::vnode::{Attr, Element, Tag, VNode};

/// CommonMark plus tables, strikethrough and task lists.
pub fn options() -> Options {
    Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// Byte offset in the parsed text where the block's first line starts.
    pub line_start: usize,
    pub node: VNode,
}

/// What is being built: an element, or text collected for a code block
/// or an image's alt text.
enum Frame {
    El(Element),
    Code { lang: String, text: String },
    Image { href: Option<String>, alt: String },
}

struct Builder {
    stack: Vec<Frame>,
    blocks: Vec<Block>,
    block_start: usize,
    table_align: Vec<Alignment>,
    table_col: usize,
    in_table_head: bool,
}

/// Parses `text` into top-level blocks.
pub fn parse_blocks(text: &str) -> Vec<Block> {
    let mut b = Builder::new();
    for (event, range) in Parser::new_ext(text, options()).into_offset_iter() {
        if b.stack.is_empty() {
            b.block_start = line_start(text, range.start);
        }
        b.event(event);
    }
    b.finish()
}

/// Where the line holding byte `at` starts.
fn line_start(text: &str, at: usize) -> usize {
    text[..at].rfind('\n').map_or(0, |i| i + 1)
}

/// A text that is one list, parsed: the list element without its items,
/// each item's node and where its first line starts, and whether the
/// parser made the list loose (its items' text in paragraphs).
#[derive(Debug)]
pub struct ListParse {
    pub shell: Element,
    pub items: Vec<(usize, VNode)>,
    /// `None` when nothing shows it: no item holds text directly (only
    /// code blocks, nested lists, headings…), where tight and loose
    /// render alike.
    pub loose: Option<bool>,
}

/// `text` parsed as a list, or `None` if it is not exactly one list.
pub fn parse_list(text: &str) -> Option<ListParse> {
    use pulldown_cmark::Tag as T;
    let mut b = Builder::new();
    let mut starts = Vec::new();
    let (mut loose, mut tight) = (false, false);
    for (event, range) in Parser::new_ext(text, options()).into_offset_iter() {
        match (b.stack.len(), &event) {
            (0, _) if !b.blocks.is_empty() => return None,
            (1, Event::Start(T::Item)) => starts.push(line_start(text, range.start)),
            // Directly in an item: a paragraph, or text without one.
            (2, Event::Start(T::Paragraph)) => loose = true,
            (
                2,
                Event::Text(_)
                | Event::Code(_)
                | Event::InlineHtml(_)
                | Event::SoftBreak
                | Event::HardBreak
                | Event::Start(
                    T::Emphasis | T::Strong | T::Strikethrough | T::Link { .. } | T::Image { .. },
                ),
            ) => tight = true,
            _ => {}
        }
        b.event(event);
    }
    let mut blocks = b.finish();
    let Some(Block {
        node: VNode::El(list),
        ..
    }) = blocks.pop()
    else {
        return None;
    };
    if !blocks.is_empty()
        || !matches!(list.tag, Tag::Ul | Tag::Ol)
        || list.children.len() != starts.len()
    {
        return None;
    }
    let Element {
        tag,
        attrs,
        children,
    } = list;
    Some(ListParse {
        shell: Element {
            tag,
            attrs,
            children: Vec::new(),
        },
        items: starts.into_iter().zip(children).collect(),
        loose: match (loose, tight) {
            // A parser that did both cannot be read this way.
            (true, true) => return None,
            (false, false) => None,
            (loose, _) => Some(loose),
        },
    })
}

/// Where each top-level block of `text` starts (the start of its first
/// line): what [`parse_blocks`] gives as `line_start`, without building
/// any node. A few times cheaper, for blocks that are rendered later.
pub fn block_starts(text: &str) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut depth = 0usize;
    for (event, range) in Parser::new_ext(text, options()).into_offset_iter() {
        match event {
            Event::End(_) => depth = depth.saturating_sub(1),
            event => {
                if depth == 0 {
                    starts.push(line_start(text, range.start));
                }
                if matches!(event, Event::Start(_)) {
                    depth += 1;
                }
            }
        }
    }
    starts
}

fn code_lang(info: &str) -> String {
    info.split(|c: char| c.is_whitespace() || c == ',' || c == '{')
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '#' | '.' | '-'))
        .take(32)
        .collect()
}

/// Lines of code per group: a code block's lines are grouped in blocks of
/// about this many (see [`code_groups`]).
pub const CODE_GROUP_LINES: usize = 32;

/// Where `code` is cut into groups: the byte offsets of the newlines
/// that end a group. A group ends after at least [`CODE_GROUP_LINES`]
/// lines, on a line that is not empty (a block's last line, if empty,
/// would not be shown), and never at the code's last newline.
fn code_cuts(code: &str) -> Vec<usize> {
    let mut cuts = Vec::new();
    let mut lines = 0;
    let mut line_start = 0;
    for (i, _) in code.match_indices('\n') {
        lines += 1;
        if lines >= CODE_GROUP_LINES && i > line_start && i + 1 < code.len() {
            cuts.push(i);
            lines = 0;
        }
        line_start = i + 1;
    }
    cuts
}

/// The highlighted code in groups of lines, each a block of its own (a
/// `span.code-lines`, `display: block`). The newline that ends a group
/// is left out: the block boundary breaks the line, and selecting or
/// copying the code gives one newline there. Appending to a long code
/// block, as a reply streams, then lays out its last group instead of
/// every line of the block (one inline formatting context of thousands
/// of lines took the browser 15-20 ms a frame at 2,500 lines).
fn code_groups(lang: &str, code: &str) -> Vec<VNode> {
    grouped(lang, code).groups
}

/// A code block's groups, with what [`CodeStream`] needs to keep them.
struct Grouped {
    groups: Vec<VNode>,
    /// The newline that ends each group but the last.
    cuts: Vec<usize>,
    /// The highlighter's sync points ([`highlight::highlight_synced`]).
    sync: Vec<usize>,
}

fn grouped(lang: &str, code: &str) -> Grouped {
    let all_cuts = code_cuts(code);
    let mut cuts = all_cuts.iter().copied().peekable();
    let mut groups = Vec::new();
    let mut group = Element::new(Tag::Span).attr(Attr::Class, "code-lines");
    let push = |group: &mut Element, kind: Option<highlight::Kind>, text: &str| {
        if text.is_empty() {
            return;
        }
        group.push(match kind {
            Some(k) => Element::new(Tag::Span)
                .attr(Attr::Class, k.class())
                .child(VNode::text(text))
                .into(),
            None => VNode::text(text),
        });
    };
    let mut offset = 0;
    let (pieces, sync) = highlight::highlight_synced(lang, code);
    for (kind, piece) in pieces {
        let end = offset + piece.len();
        let mut from = offset;
        while let Some(cut) = cuts.next_if(|&c| c < end) {
            push(&mut group, kind, &code[from..cut]);
            groups.push(std::mem::replace(
                &mut group,
                Element::new(Tag::Span).attr(Attr::Class, "code-lines"),
            ));
            from = cut + 1;
        }
        push(&mut group, kind, &code[from..end]);
        offset = end;
    }
    groups.push(group);
    Grouped {
        groups: groups.into_iter().map(VNode::from).collect(),
        cuts: all_cuts,
        sync,
    }
}

/// A fenced code block that is still streaming, rendered so that an
/// update costs its last groups of lines, not the whole block: a group
/// is kept once the highlighter starts afresh on the line after it (no
/// string or comment runs on past it), and only the code after the kept
/// groups is highlighted again. Gives exactly what [`code_block`] gives.
#[derive(Debug)]
pub struct CodeStream {
    lang: String,
    /// The groups kept, each shared with the nodes handed out.
    kept: Vec<VNode>,
    /// Where the code after them starts: 0 or just after a cut, where
    /// the highlighter starts afresh and groups are counted from.
    resume: usize,
}

impl CodeStream {
    pub fn new(lang: String) -> Self {
        Self {
            lang,
            kept: Vec::new(),
            resume: 0,
        }
    }

    /// The code block showing `code`, which extends the code of earlier
    /// calls.
    pub fn update(&mut self, code: &str) -> VNode {
        let rest = code.get(self.resume..).unwrap_or_else(|| {
            // Not an extension: start over.
            self.kept.clear();
            self.resume = 0;
            code
        });
        let Grouped { groups, cuts, sync } = grouped(&self.lang, rest);
        // The last cut the highlighter starts afresh after: the groups up
        // to it are final.
        let last = cuts
            .iter()
            .rposition(|c| sync.binary_search(&(c + 1)).is_ok());
        let mut groups = groups.into_iter();
        if let Some(k) = last {
            self.kept.extend(
                groups
                    .by_ref()
                    .take(k + 1)
                    .map(|g| VNode::Shared(Arc::new(g))),
            );
            self.resume += cuts[k] + 1;
        }
        code_block_of(&self.lang, self.kept.iter().cloned().chain(groups))
    }
}

/// How many bytes of code the parser reads in `src`, a fenced code block.
pub fn fence_code_len(src: &str) -> usize {
    Parser::new_ext(src, options())
        .map(|e| match e {
            Event::Text(t) => t.len(),
            _ => 0,
        })
        .sum()
}

/// The language of a fenced code block whose opening line is `line`
/// (with its newline), read by the parser itself (escapes, entities);
/// `None` if the line does not open a fenced code block.
pub fn fence_lang(line: &str) -> Option<String> {
    Parser::new_ext(line, options()).find_map(|e| match e {
        Event::Start(pulldown_cmark::Tag::CodeBlock(CodeBlockKind::Fenced(info))) => {
            Some(code_lang(&info))
        }
        _ => None,
    })
}

/// The text of a rendered code element: its groups' text joined by the
/// newlines the groups leave out.
pub fn code_text(groups: impl Iterator<Item = String>) -> String {
    groups.collect::<Vec<_>>().join("\n")
}

/// A code block: a header with the language and a copy button, then the
/// highlighted code.
pub fn code_block(lang: &str, code: &str) -> VNode {
    code_block_of(lang, code_groups(lang, code).into_iter())
}

fn code_block_of(lang: &str, groups: impl Iterator<Item = VNode>) -> VNode {
    let mut code_el = Element::new(Tag::Code);
    if !lang.is_empty() {
        code_el = code_el.attr(Attr::Class, format!("language-{lang}"));
    }
    for group in groups {
        code_el.push(group);
    }
    let label = if lang.is_empty() {
        crate::i18n::tr("text", "文本")
    } else {
        lang
    };
    let head = Element::new(Tag::Div)
        .attr(Attr::Class, "code-head")
        .child(
            Element::new(Tag::Span)
                .attr(Attr::Class, "code-lang")
                .child(VNode::text(label))
                .into(),
        )
        .child(
            Element::new(Tag::Button)
                .attr(Attr::Type, "button")
                .attr(Attr::Class, "copy-code")
                .attr(Attr::TestId, "copy-code")
                .attr(Attr::Action, "copy-code")
                .attr(Attr::AriaLabel, crate::i18n::tr("Copy code", "复制代码"))
                .child(VNode::text(crate::i18n::tr("Copy", "复制")))
                .into(),
        );
    Element::new(Tag::Div)
        .attr(Attr::Class, "code-block")
        .attr(Attr::TestId, "code-block")
        .attr(Attr::Lang, label)
        .child(head.into())
        .child(Element::new(Tag::Pre).child(code_el.into()).into())
        .into()
}

fn heading(level: HeadingLevel) -> Tag {
    match level {
        HeadingLevel::H1 => Tag::H1,
        HeadingLevel::H2 => Tag::H2,
        HeadingLevel::H3 => Tag::H3,
        HeadingLevel::H4 => Tag::H4,
        HeadingLevel::H5 => Tag::H5,
        HeadingLevel::H6 => Tag::H6,
    }
}

impl Builder {
    fn new() -> Self {
        Self {
            stack: Vec::new(),
            blocks: Vec::new(),
            block_start: 0,
            table_align: Vec::new(),
            table_col: 0,
            in_table_head: false,
        }
    }

    fn finish(mut self) -> Vec<Block> {
        // Anything left open (cannot happen with a well-behaved parser,
        // but a half-built tree is still better shown than lost).
        while !self.stack.is_empty() {
            self.close();
        }
        self.blocks
    }

    fn open(&mut self, el: Element) {
        self.stack.push(Frame::El(el));
    }

    fn add(&mut self, node: VNode) {
        match self.stack.last_mut() {
            Some(Frame::El(e)) => e.push(node),
            Some(Frame::Code { text, .. }) => text.push_str(&node.text_content()),
            Some(Frame::Image { alt, .. }) => alt.push_str(&node.text_content()),
            None => self.blocks.push(Block {
                line_start: self.block_start,
                node,
            }),
        }
    }

    fn add_text(&mut self, text: &str) {
        match self.stack.last_mut() {
            Some(Frame::Code { text: t, .. }) => t.push_str(text),
            Some(Frame::Image { alt, .. }) => alt.push_str(text),
            _ => self.add(VNode::text(text)),
        }
    }

    fn close(&mut self) {
        let node = match self.stack.pop() {
            Some(Frame::El(e)) => e.into(),
            Some(Frame::Code { lang, text }) => code_block(&lang, &text),
            Some(Frame::Image { href, alt }) => image(href, &alt),
            None => return,
        };
        self.add(node);
    }

    fn align_class(&self) -> Option<&'static str> {
        match self.table_align.get(self.table_col)? {
            Alignment::None => None,
            Alignment::Left => Some("align-left"),
            Alignment::Center => Some("align-center"),
            Alignment::Right => Some("align-right"),
        }
    }

    fn event(&mut self, event: Event<'_>) {
        use pulldown_cmark::Tag as T;
        match event {
            Event::Start(tag) => match tag {
                T::Paragraph => self.open(Element::new(Tag::P)),
                T::Heading { level, .. } => self.open(Element::new(heading(level))),
                T::BlockQuote(_) => self.open(Element::new(Tag::Blockquote)),
                T::CodeBlock(kind) => {
                    let lang = match kind {
                        CodeBlockKind::Fenced(info) => code_lang(&info),
                        CodeBlockKind::Indented => String::new(),
                    };
                    self.stack.push(Frame::Code {
                        lang,
                        text: String::new(),
                    });
                }
                // Raw HTML is shown as the text it is.
                T::HtmlBlock => self.open(Element::new(Tag::P).attr(Attr::Class, "md-html")),
                T::List(Some(start)) => {
                    let mut ol = Element::new(Tag::Ol);
                    if start != 1 {
                        ol = ol.attr(Attr::Start, start.to_string());
                    }
                    self.open(ol)
                }
                T::List(None) => self.open(Element::new(Tag::Ul)),
                T::Item => self.open(Element::new(Tag::Li)),
                T::Table(align) => {
                    self.table_align = align;
                    self.open(Element::new(Tag::Table));
                }
                T::TableHead => {
                    self.in_table_head = true;
                    self.table_col = 0;
                    self.open(Element::new(Tag::Thead));
                    self.open(Element::new(Tag::Tr));
                }
                T::TableRow => {
                    self.table_col = 0;
                    self.open(Element::new(Tag::Tr));
                }
                T::TableCell => {
                    let tag = if self.in_table_head { Tag::Th } else { Tag::Td };
                    let mut cell = Element::new(tag);
                    if let Some(class) = self.align_class() {
                        cell = cell.attr(Attr::Class, class);
                    }
                    self.open(cell);
                }
                T::Emphasis => self.open(Element::new(Tag::Em)),
                T::Strong => self.open(Element::new(Tag::Strong)),
                T::Strikethrough => self.open(Element::new(Tag::Del)),
                T::Link {
                    dest_url, title, ..
                } => self.open(link(safe_href(&dest_url), &title)),
                T::Image { dest_url, .. } => self.stack.push(Frame::Image {
                    href: safe_href(&dest_url),
                    alt: String::new(),
                }),
                // Not enabled; kept as plain containers should that change.
                T::FootnoteDefinition(_)
                | T::DefinitionList
                | T::DefinitionListTitle
                | T::DefinitionListDefinition
                | T::Superscript
                | T::Subscript
                | T::MetadataBlock(_) => self.open(Element::new(Tag::Span)),
            },
            Event::End(end) => {
                match end {
                    TagEnd::TableHead => {
                        self.close(); // tr
                        self.close(); // thead
                        self.in_table_head = false;
                        // Body rows follow in a tbody.
                        self.open(Element::new(Tag::Tbody));
                        return;
                    }
                    TagEnd::Table => {
                        self.close(); // tbody
                        self.close(); // table
                        return;
                    }
                    TagEnd::TableCell => self.table_col += 1,
                    _ => {}
                }
                self.close();
            }
            Event::Text(t) => self.add_text(&t),
            Event::Code(t) => self.add(Element::new(Tag::Code).child(VNode::text(&*t)).into()),
            Event::Html(t) | Event::InlineHtml(t) => self.add_text(&t),
            Event::InlineMath(t) | Event::DisplayMath(t) => self.add_text(&t),
            Event::FootnoteReference(t) => self.add_text(&format!("[^{t}]")),
            Event::SoftBreak => self.add_text("\n"),
            Event::HardBreak => self.add(Element::new(Tag::Br).into()),
            Event::Rule => self.add(Element::new(Tag::Hr).into()),
            Event::TaskListMarker(checked) => {
                let mut input = Element::new(Tag::Input)
                    .attr(Attr::Type, "checkbox")
                    .attr(Attr::Disabled, "");
                if checked {
                    input = input.attr(Attr::Checked, "");
                }
                self.add(input.into());
            }
        }
    }
}

fn link(href: Option<String>, title: &str) -> Element {
    match href {
        Some(href) => {
            let mut a = Element::new(Tag::A)
                .attr(Attr::Href, href)
                .attr(Attr::Target, "_blank")
                .attr(Attr::Rel, "noopener noreferrer");
            if !title.is_empty() {
                a = a.attr(Attr::Title, title);
            }
            a
        }
        // The text stays; the target does not.
        None => Element::new(Tag::Span)
            .attr(Attr::Class, "link-removed")
            .attr(
                Attr::Title,
                crate::i18n::tr(
                    "Link removed: only http, https and mailto links are allowed",
                    "链接已移除：只允许 http、https 和 mailto 链接",
                ),
            ),
    }
}

/// Images are never loaded from model output: a link to the image,
/// labelled with its alt text, or just the label when the URL is unsafe.
fn image(href: Option<String>, alt: &str) -> VNode {
    let label = if alt.trim().is_empty() {
        crate::i18n::tr("image", "图片").to_owned()
    } else {
        alt.to_owned()
    };
    let label = VNode::text(trf!("[image: {label}]", "[图片：{label}]"));
    match href {
        Some(href) => Element::new(Tag::A)
            .attr(Attr::Href, href)
            .attr(Attr::Target, "_blank")
            .attr(Attr::Rel, "noopener noreferrer")
            .attr(Attr::Class, "image-link")
            .child(label)
            .into(),
        None => Element::new(Tag::Span)
            .attr(Attr::Class, "link-removed")
            .child(label)
            .into(),
    }
}

/// The whole text rendered at once (history, tests, the final check).
pub fn render(text: &str) -> Vec<VNode> {
    parse_blocks(text).into_iter().map(|b| b.node).collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::markdown::vnode::to_html;
    use proptest::prelude::*;

    fn html(md: &str) -> String {
        to_html(&render(md))
    }

    #[test]
    fn commonmark_and_the_gfm_extensions() {
        assert_eq!(
            html("# Title\n\nSome *em* and **strong**."),
            "<h1>Title</h1><p>Some <em>em</em> and <strong>strong</strong>.</p>"
        );
        assert_eq!(html("- a\n- b"), "<ul><li>a</li><li>b</li></ul>");
        assert_eq!(
            html("3. c\n4. d"),
            "<ol start=\"3\"><li>c</li><li>d</li></ol>"
        );
        assert_eq!(html("~~gone~~"), "<p><del>gone</del></p>");
        assert_eq!(
            html("- [x] done\n- [ ] todo"),
            "<ul><li><input type=\"checkbox\" disabled=\"\" checked=\"\">done</li><li><input type=\"checkbox\" disabled=\"\">todo</li></ul>"
        );
        assert_eq!(
            html("| a | b |\n|:--|--:|\n| 1 | 2 |"),
            "<table><thead><tr><th class=\"align-left\">a</th><th class=\"align-right\">b</th></tr></thead><tbody><tr><td class=\"align-left\">1</td><td class=\"align-right\">2</td></tr></tbody></table>"
        );
        assert_eq!(
            html("> quoted\n\n---"),
            "<blockquote><p>quoted</p></blockquote><hr>"
        );
        assert_eq!(html("a  \nb\nc"), "<p>a<br>b\nc</p>");
        assert_eq!(html("`x<y`"), "<p><code>x&lt;y</code></p>");
    }

    #[test]
    fn raw_html_is_text() {
        assert_eq!(
            html("<script>alert(1)</script>"),
            "<p class=\"md-html\">&lt;script&gt;alert(1)&lt;/script&gt;</p>"
        );
        assert_eq!(
            html("hi <img src=x onerror=alert(1)> there"),
            "<p>hi &lt;img src=x onerror=alert(1)&gt; there</p>"
        );
    }

    #[test]
    fn links_are_checked_and_images_never_load() {
        assert_eq!(
            html("[ok](https://example.com \"t\")"),
            "<p><a href=\"https://example.com\" target=\"_blank\" rel=\"noopener noreferrer\" title=\"t\">ok</a></p>"
        );
        let bad = html("[x](javascript:alert(1)) [y](&#106;avascript:alert(1))");
        assert!(!bad.contains("href"), "{bad}");
        assert!(bad.contains("link-removed"));
        assert_eq!(
            html("![a *cat*](https://e.com/c.png)"),
            "<p><a href=\"https://e.com/c.png\" target=\"_blank\" rel=\"noopener noreferrer\" class=\"image-link\">[image: a cat]</a></p>"
        );
        assert_eq!(
            html("![x](data:image/svg+xml;base64,PHN2Zz4=)"),
            "<p><span class=\"link-removed\">[image: x]</span></p>"
        );
        assert_eq!(html("<https://auto.link>").matches("href").count(), 1);
    }

    /// The groups of a code block's element, each as its text.
    fn groups_of(code: &str) -> Vec<String> {
        let VNode::El(block) = code_block("python", code) else {
            panic!("a code block is an element");
        };
        let Some(VNode::El(pre)) = block.children.last() else {
            panic!("pre")
        };
        let VNode::El(code_el) = &pre.children[0] else {
            panic!("code")
        };
        code_el.children.iter().map(VNode::text_content).collect()
    }

    #[test]
    fn long_code_is_grouped_in_blocks_of_lines_that_copy_back_exactly() {
        let line = |i: usize| match i % 5 {
            0 => String::new(),
            1 => format!("s = \"\"\"multi {i}"),
            2 => format!("line {i}\"\"\" # c"),
            _ => format!("def f{i}(x): return x * {i}"),
        };
        for n in [0, 1, 31, 32, 33, 64, 65, 100, 1000] {
            for end in ["", "\n", "\n\n"] {
                let code = (0..n).map(line).collect::<Vec<_>>().join("\n") + end;
                let groups = groups_of(&code);
                // What the copy button gives is the code.
                assert_eq!(
                    code_text(groups.iter().cloned()),
                    code,
                    "{n} lines, end {end:?}"
                );
                for (i, g) in groups.iter().enumerate() {
                    let lines = g.split('\n').count();
                    if i + 1 < groups.len() {
                        // A group shows all its lines: it never ends with
                        // an empty one, which a block would not show.
                        assert!(!g.ends_with('\n') && !g.is_empty(), "{g:?}");
                        assert!(lines >= CODE_GROUP_LINES, "{lines}");
                        assert!(lines < CODE_GROUP_LINES + 5, "{lines}");
                    }
                }
                if n >= 100 {
                    assert!(groups.len() >= 2, "{n} lines in {} group", groups.len());
                }
            }
        }
        // A token over a cut (a string across lines) is split, in both
        // groups with its class.
        let mut code: String = (0..CODE_GROUP_LINES - 1)
            .map(|i| format!("x{i} = 1\n"))
            .collect();
        code.push_str("s = \"\"\"a\nb\"\"\"\ny = 2\n");
        let out = to_html(&[code_block("python", &code)]);
        assert!(out.contains("<span class=\"hl-str\">&quot;&quot;&quot;a</span></span><span class=\"code-lines\"><span class=\"hl-str\">b&quot;&quot;&quot;</span>"), "{out}");
    }

    /// How many of a code block's groups are shared (kept from an
    /// earlier update).
    pub(crate) fn shared_groups(block: &VNode) -> usize {
        let VNode::El(block) = block.resolved() else {
            return 0;
        };
        let Some(VNode::El(pre)) = block.children.last() else {
            return 0;
        };
        let Some(VNode::El(code)) = pre.children.first() else {
            return 0;
        };
        code.children
            .iter()
            .filter(|g| matches!(g, VNode::Shared(_)))
            .count()
    }

    /// Code that grows line by line, with strings and comments that run
    /// over several lines, in each highlighted language.
    fn growing_code(lang: &str, lines: usize) -> String {
        (0..lines)
            .map(|i| match (lang, i % 7) {
                (_, 0) => "\n".to_string(),
                ("python", 1) => format!("s = \"\"\"doc {i}\n"),
                ("python", 2) => format!("more\"\"\" # {i}\n"),
                ("html", 1) => format!("<!-- {i}\n"),
                ("html", 2) => format!("--> <a href='x'\n title=\"{i}\">&amp;</a>\n"),
                ("css", 1) => format!(".a{i} {{\n"),
                ("css", 2) => "  color: #fff; }\n".to_string(),
                ("css", _) => format!("p > a{i} {{ margin: 0 }} /* {i} */\n"),
                (_, 1) => format!("/* comment {i}\n"),
                (_, 2) => format!("   still */ let x = `tpl {i}\n"),
                (_, 3) => "and more`;\n".to_string(),
                _ => format!("fn f{i}(a: &str) -> u8 {{ \"s\" // {i}\n"),
            })
            .collect()
    }

    #[test]
    fn a_streaming_code_block_keeps_its_finished_groups_and_renders_as_the_whole() {
        for lang in [
            "rust", "python", "js", "html", "css", "json", "sh", "sql", "",
        ] {
            let code = growing_code(lang, 600);
            let mut stream = CodeStream::new(lang.to_string());
            let mut end = 0;
            let mut step = 1;
            while end < code.len() {
                end = (end + step).min(code.len());
                step = step % 97 + 13;
                let node = stream.update(&code[..end]);
                let whole = code_block(lang, &code[..end]);
                assert_eq!(node, whole, "{lang} at {end}");
                assert_eq!(to_html(&[node]), to_html(&[whole]), "{lang} at {end}");
            }
            // Most groups were kept, not rendered again.
            let node = stream.update(&code);
            let groups = groups_of(&code).len();
            assert!(
                shared_groups(&node) + 3 >= groups,
                "{lang}: {} of {groups} kept",
                shared_groups(&node)
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Whatever the code and however it arrives, a streaming code
        /// block shows what rendering all of it at once shows.
        #[test]
        fn any_chunking_of_code_renders_as_the_whole(
            lang in prop_oneof![
                Just("rust"), Just("python"), Just("js"), Just("c"), Just("sh"),
                Just("json"), Just("sql"), Just("css"), Just("html"), Just(""),
            ],
            pieces in proptest::collection::vec(prop_oneof![
                Just("\n"), Just("\n"), Just("\n"), Just("\n\n"), Just("x "), Just("fn"), Just("\""),
                Just("'"), Just("`"), Just("\"\"\""), Just("/*"), Just("*/"), Just("//"),
                Just("#"), Just("<!--"), Just("-->"), Just("<a "), Just(">"), Just("&amp;"),
                Just(";"), Just(":"), Just("{"), Just("}"), Just("    "), Just("${"),
                Just("r#\""), Just("\\"), Just("@d"), Just("1.5"), Just("中"), Just("\t"),
            ], 0..400),
            step in 1usize..40,
        ) {
            let code: String = pieces.concat();
            let mut stream = CodeStream::new(lang.to_string());
            let mut end = 0;
            while end < code.len() {
                end = (end + step).min(code.len());
                while !code.is_char_boundary(end) {
                    end += 1;
                }
                prop_assert_eq!(stream.update(&code[..end]), code_block(lang, &code[..end]));
            }
        }
    }

    #[test]
    fn code_blocks_are_highlighted_with_a_copy_button() {
        let out = html("```rust title=x\nfn main() {}\n```");
        assert!(
            out.starts_with(
                "<div class=\"code-block\" data-testid=\"code-block\" data-lang=\"rust\">"
            ),
            "{out}"
        );
        assert!(out.contains("<span class=\"code-lang\">rust</span>"));
        assert!(out.contains("data-action=\"copy-code\""));
        assert!(
            out.contains(
                "<code class=\"language-rust\"><span class=\"code-lines\"><span class=\"hl-kw\">fn</span> main() {}\n</span></code>"
            ),
            "{out}"
        );
        // Hostile info strings cannot reach the class attribute.
        let out = html("```\"><script>\nx\n```");
        assert!(out.contains("data-lang=\"script\""), "{out}");
        let nodes = render("```\nplain\n```");
        assert_eq!(nodes[0].text_content(), "textCopyplain\n");
    }

    #[test]
    fn blocks_know_their_line_starts() {
        let text = "para\none\n\n  - item\n\n```\ncode\n```\n";
        let starts: Vec<usize> = parse_blocks(text).iter().map(|b| b.line_start).collect();
        assert_eq!(starts, [0, 10, 20]);
        assert_eq!(block_starts(text), starts);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// The cheap pass finds exactly the blocks the full one builds.
        #[test]
        fn block_starts_agree_with_the_full_parse(
            pieces in proptest::collection::vec(prop_oneof![
                Just("word "), Just("**"),
                Just("`"), Just("```"),
                Just("\n"), Just("\n\n"),
                Just("- "), Just("1. "),
                Just("# "), Just("> "),
                Just("|"), Just("---"),
                Just("["), Just("]("),
                Just("]: x"), Just(")"),
                Just("    "), Just("<div>"),
                Just("!["), Just("中文"),
                Just("\t"), Just("==="),
            ], 0..80),
        ) {
            let text: String = pieces.concat();
            let full: Vec<usize> = parse_blocks(&text).iter().map(|b| b.line_start).collect();
            prop_assert_eq!(block_starts(&text), full);
        }
    }
}
