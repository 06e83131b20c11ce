//! Incremental rendering of a reply that grows at its end.
//!
//! A top-level block is final once the next block has begun on a complete
//! line: CommonMark decides block structure line by line and never
//! reopens a closed block. Final blocks are handed out once and never
//! rendered again; only the open tail (usually one block) is re-parsed on
//! each update, so the cost of an update does not grow with the reply.
//! The open tail is repaired with [`close_open_inlines`] so unfinished
//! markup does not flicker.
//!
//! When many blocks become final at once (a burst of text, a reply taken
//! up again), those a reader following the reply cannot see yet are
//! handed out as their source: the view shows them as plain text and
//! renders them when they come near or the page is idle. A top-level
//! block renders the same on its own as within the text (the property
//! the freezing above rests on), so nothing differs but when.

use std::ops::Range;
use std::sync::Arc;

use super::remend::{close_open_inlines, closes_fence, indent_columns};
use super::render::{block_starts, fence_code_len, fence_lang, parse_list, render, CodeStream};
use super::scan::sure_block_starts;
use super::vnode::{Element, Tag, VNode};

/// Which final blocks are handed out as source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deferral {
    /// The last final blocks of an update are always rendered: they are
    /// what a reader at the bottom sees.
    pub eager_tail: usize,
    /// Blocks are handed out as source only in runs at least this long.
    pub min_run: usize,
    /// A tail at least this long is not parsed whole: its blocks are
    /// found by [`sure_block_starts`] up to where the last
    /// `eager_bytes` of the text begin, and handed out as source.
    pub skim_from: usize,
    /// How much of a skimmed tail's end is parsed and rendered.
    pub eager_bytes: usize,
}

impl Default for Deferral {
    fn default() -> Self {
        // A screen shows well under 48 blocks; shorter runs are cheap.
        // Parsing 8 KB takes well under a millisecond.
        Self {
            eager_tail: 48,
            min_run: 24,
            skim_from: 16 * 1024,
            eager_bytes: 8 * 1024,
        }
    }
}

#[derive(Debug, Default)]
pub struct StreamRenderer {
    /// Bytes of the text already handed out as final blocks.
    frozen_len: usize,
    finished: bool,
    /// How many open blocks the last update handed out: the view has
    /// their elements, so they are rendered when they become final.
    open_before: usize,
    deferral: Deferral,
    /// The open block, when it is one whose growth can be read without
    /// parsing it all again: a fenced code block that has not closed, or
    /// a list.
    tail: Option<OpenTail>,
    /// How many times the open tail was parsed.
    #[cfg(test)]
    parses: usize,
    /// How many bytes were parsed to find where blocks begin.
    #[cfg(test)]
    parsed_bytes: std::cell::Cell<usize>,
}

/// An open fenced code block at the start of a line, alone in the open
/// tail. Until a closing fence comes it takes every line that follows
/// (CommonMark), so no block can begin and nothing before it changes:
/// an update checks the new lines for a closing fence and renders the
/// code with a [`CodeStream`], without parsing the block again.
#[derive(Debug)]
struct OpenFence {
    /// Where its opening line starts in the text, and where its code
    /// starts.
    start: usize,
    code_start: usize,
    /// The opening line, and its fence character and length.
    first: String,
    mark: (char, usize),
    /// The complete lines up to here were checked: none closes the
    /// block, none has a character the parser would change (`\r`, NUL).
    checked: usize,
    code: CodeStream,
}

impl OpenFence {
    /// The open block starting at `start` in `text`, if it is a fenced
    /// code block that has not closed.
    fn begin(text: &str, start: usize) -> Option<Self> {
        let src = &text[start..];
        let first = &src[..src.find('\n')? + 1];
        let c = first.chars().next().filter(|c| matches!(c, '`' | '~'))?;
        let n = first.chars().take_while(|x| *x == c).count();
        let lang = fence_lang(first)?;
        let mut fence = Self {
            start,
            code_start: start + first.len(),
            first: first.to_owned(),
            mark: (c, n),
            checked: start + first.len(),
            code: CodeStream::new(lang),
        };
        fence.check(text).then_some(fence)
    }

    /// Checks the complete lines added since the last call; false if one
    /// closes the block or has a character the parser would change.
    fn check(&mut self, text: &str) -> bool {
        let complete_to = text.rfind('\n').map_or(0, |i| i + 1);
        if complete_to > self.checked {
            for line in text[self.checked..complete_to].split_inclusive('\n') {
                if self.closes(line) || line.contains(['\r', '\0']) {
                    return false;
                }
            }
            self.checked = complete_to;
        }
        !text[self.checked..].contains(['\r', '\0'])
    }

    /// Whether `line` is a closing fence: up to 3 spaces, at least as
    /// many fence characters, then only blanks.
    fn closes(&self, line: &str) -> bool {
        let (c, n) = self.mark;
        let body = line.trim_start_matches(' ');
        if line.len() - body.len() > 3 {
            return false;
        }
        let run = body.chars().take_while(|x| *x == c).count();
        run >= n && body[run..].trim_matches([' ', '\t', '\n']).is_empty()
    }

    /// Whether `line` may close the block as `close_open_inlines` reads
    /// it: indented up to 3 columns, enough fence characters, blanks.
    fn may_close(&self, line: &str) -> bool {
        let body = line.trim_start_matches([' ', '\t']);
        closes_fence(body, indent_columns(line), self.mark, 0)
    }

    /// The block showing `text`, or `None` if it is no longer an open
    /// code block (or the text is not an extension of the last one).
    fn update(&mut self, text: &str) -> Option<VNode> {
        if text.len() < self.checked || !text.is_char_boundary(self.checked) || !self.check(text) {
            return None;
        }
        // The last, incomplete line: a closing fence on its way is not
        // code to show (`close_open_inlines`), unless it may close the
        // block already; then, as for a line of blanks, the parser says
        // (it leaves out up to 3 spaces, or a fence followed by spaces).
        let last = &text[self.checked.max(self.code_start)..];
        let trimmed = last.trim();
        let shown = if !trimmed.chars().all(|x| x == self.mark.0) {
            true
        } else if trimmed.is_empty() || self.may_close(last) {
            fence_code_len(&format!("{}{last}", self.first)) > 0
        } else {
            false
        };
        let end = if shown { text.len() } else { self.checked };
        Some(self.code.update(&text[self.code_start..end]))
    }
}

/// An open block that updates read only where it grows.
#[derive(Debug)]
enum OpenTail {
    Fence(OpenFence),
    List(OpenList),
}

impl OpenTail {
    /// Where the block starts in the text.
    fn start(&self) -> usize {
        match self {
            OpenTail::Fence(f) => f.start,
            OpenTail::List(l) => l.start,
        }
    }

    /// The block showing `text`, or `None` if it has to be parsed again.
    fn update(&mut self, text: &str) -> Option<VNode> {
        match self {
            OpenTail::Fence(f) => f.update(text),
            OpenTail::List(l) => l.update(text),
        }
    }
}

/// An open list at the top level, alone in the open tail. An item is
/// finished once the next one begins on a complete line: block structure
/// is decided line by line, and an item parsed on its own (from the start
/// of its first line) is what it is within the list. What can still
/// change is the list's looseness (a blank line between two items makes
/// every item's text a paragraph). So an update parses the text from the
/// last item on, keeps the items that finished, and checks that the
/// parse is exactly as loose as the list was; anything else (the list
/// ends, turns loose, or a link reference definition appears) falls back
/// to parsing the open tail again.
#[derive(Debug)]
struct OpenList {
    /// Where the list starts in the text, and where its first unfinished
    /// item starts.
    start: usize,
    last: usize,
    /// The list element, without its items.
    shell: Option<Element>,
    /// The finished items, each shared with the nodes handed out.
    kept: Vec<VNode>,
    /// Whether the list is loose, once a parse has shown it.
    loose: Option<bool>,
}

impl OpenList {
    /// The open block starting at `start` in `text`, if it is a list
    /// that updates can read as it grows.
    fn begin(text: &str, start: usize) -> Option<Self> {
        if may_define_links(&text[start..]) {
            return None;
        }
        let mut list = Self {
            start,
            last: start,
            shell: None,
            kept: Vec::new(),
            loose: None,
        };
        list.update(text).map(|_| list)
    }

    fn update(&mut self, text: &str) -> Option<VNode> {
        let rest = text.get(self.last..)?;
        if may_define_links(rest) {
            return None;
        }
        // Repaired as the whole open block would be; the repair only
        // touches its last run of lines, in the last item.
        let src = &text[self.start..];
        let from = self.last - self.start;
        let parsed = match close_open_inlines(src) {
            None => parse_list(rest)?,
            Some(fixed) => {
                // The blocks are where the text as it is puts them (as
                // for the whole open tail); the repaired text is what is
                // shown.
                if block_starts(rest).len() != 1 || fixed.get(..from)? != &src[..from] {
                    return None;
                }
                parse_list(&fixed[from..])?
            }
        };
        let shell = self.shell.get_or_insert_with(|| parsed.shell.clone());
        let loose = parsed.loose?;
        if shell.tag != parsed.shell.tag || self.loose.is_some_and(|l| l != loose) {
            return None;
        }
        self.loose = Some(loose);
        // Items whose successor starts on a complete line are finished.
        let complete_to = text.rfind('\n').map_or(0, |i| i + 1);
        let n = parsed.items.len();
        let n_final = (1..n)
            .take_while(|&i| self.last + parsed.items[i].0 < complete_to)
            .count();
        if n_final > 0 {
            self.last += parsed.items[n_final].0;
        }
        let mut items = parsed.items.into_iter().map(|(_, node)| node);
        self.kept.extend(
            items
                .by_ref()
                .take(n_final)
                .map(|n| VNode::Shared(Arc::new(n))),
        );
        let mut list = shell.clone();
        list.children = self.kept.iter().cloned().chain(items).collect();
        Some(VNode::El(list))
    }
}

/// A block handed out for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Final {
    Node(VNode),
    /// The source in the text of one or more blocks (with the blank lines
    /// after them): `render(&text[range])` gives their nodes.
    Source(Range<usize>),
}

#[derive(Debug, PartialEq, Eq)]
pub struct Frame {
    /// Remove everything shown before (the text was replaced, or link
    /// reference definitions in a finished reply could change blocks
    /// rendered earlier).
    pub reset: bool,
    /// Blocks to append for good, in order.
    pub frozen: Vec<Final>,
    /// The open blocks to show after all frozen ones, replacing the
    /// previous open blocks.
    pub open: Vec<VNode>,
}

/// Whether a block that starts at `start` in `text` has begun for good,
/// given that the lines before `complete_to` are complete: its first line
/// is. A line with a `|` may be a table's header, which the next line
/// decides (a table can interrupt a paragraph, and `|-` is a delimiter
/// row until `|- x` is not): that line must be complete too.
fn settled(text: &str, start: usize, complete_to: usize) -> bool {
    let Some(first_end) = text
        .get(start..complete_to)
        .and_then(|lines| lines.find('\n'))
        .map(|i| start + i + 1)
    else {
        return false;
    };
    first_end < complete_to || !text[start..first_end].contains('|')
}

/// Whether the text may hold a link reference definition, which can
/// change how earlier blocks render.
pub(crate) fn may_define_links(text: &str) -> bool {
    // Most replies have no `]:` at all: one search, not one per line:
    // `memchr` for `]`, then the byte after it (`str::contains`, a
    // Two-Way search, took 0.2-2 ms over a 120 KB reply in the browser).
    let bytes = text.as_bytes();
    memchr::memchr_iter(b']', bytes).any(|i| bytes.get(i + 1) == Some(&b':'))
        && text.lines().any(|l| {
            let l = after_container_marks(l);
            l.starts_with('[') && l.contains("]:")
        })
}

/// `line` after its indent and any quote and list item markers: where a
/// paragraph in those containers would start.
fn after_container_marks(mut line: &str) -> &str {
    loop {
        let t = line.trim_start_matches([' ', '\t', '>']);
        let digits = t.bytes().take_while(u8::is_ascii_digit).count();
        let marker = if t.starts_with(['-', '*', '+']) {
            1
        } else if (1..=9).contains(&digits) && t[digits..].starts_with(['.', ')']) {
            digits + 1
        } else {
            0
        };
        if marker > 0 && t[marker..].starts_with([' ', '\t']) {
            line = &t[marker..];
        } else {
            return t;
        }
    }
}

impl StreamRenderer {
    pub fn new() -> Self {
        Self::default()
    }

    #[cfg(test)]
    pub fn with_deferral(deferral: Deferral) -> Self {
        Self {
            deferral,
            ..Self::default()
        }
    }

    /// How many bytes of the text are final and rendered for good.
    #[cfg(test)]
    pub fn frozen_len(&self) -> usize {
        self.frozen_len
    }

    /// Where the open code fence read only where it grows starts.
    #[cfg(test)]
    fn fence_start(&self) -> Option<usize> {
        match &self.tail {
            Some(OpenTail::Fence(f)) => Some(f.start),
            _ => None,
        }
    }

    /// Where the open list read only where it grows starts, and how many
    /// of its items are kept.
    #[cfg(test)]
    fn list_state(&self) -> Option<(usize, usize)> {
        match &self.tail {
            Some(OpenTail::List(l)) => Some((l.start, l.kept.len())),
            _ => None,
        }
    }

    /// Renders the text as it is now. `text` should extend the text of
    /// earlier calls; `streaming` is false for the last call.
    pub fn update(&mut self, text: &str, streaming: bool) -> Frame {
        let mut reset = false;
        if self.finished || self.frozen_len > text.len() || !text.is_char_boundary(self.frozen_len)
        {
            // Called again after the end, or the text was replaced: start
            // over rather than render nonsense.
            self.frozen_len = 0;
            self.finished = false;
            self.open_before = 0;
            self.tail = None;
            reset = true;
        }
        let base = self.frozen_len;
        if !streaming {
            // Link reference definitions can change how any block
            // renders (one handed out as source would be rendered alone,
            // without them): the whole text at once, replacing what was
            // shown.
            let (reset, frozen) = if may_define_links(text) {
                (
                    reset || base > 0,
                    render(text).into_iter().map(Final::Node).collect(),
                )
            } else {
                let (from, head, mut frozen) = self.skim(text, base);
                let starts = self.block_starts(&text[from..]);
                frozen.extend(self.hand_out(text, from, &starts, text.len(), head));
                (reset, frozen)
            };
            self.finished = true;
            self.frozen_len = text.len();
            self.open_before = 0;
            self.tail = None;
            return Frame {
                reset,
                frozen,
                open: Vec::new(),
            };
        }
        if let Some(open) = self.tail.as_mut().filter(|t| t.start() >= base) {
            match open.update(text) {
                Some(node) => {
                    return Frame {
                        reset,
                        frozen: Vec::new(),
                        open: vec![node],
                    }
                }
                None => self.tail = None,
            }
        }
        #[cfg(test)]
        {
            self.parses += 1;
        }
        let (from, head, mut frozen) = self.skim(text, base);
        let tail = &text[from..];
        let starts = self.block_starts(tail);
        // Blocks whose successor starts on a complete line are final.
        let complete_to = tail.rfind('\n').map_or(0, |i| i + 1);
        let n_final = (1..starts.len())
            .take_while(|&i| settled(tail, starts[i], complete_to))
            .count();
        let open_start = starts.get(n_final).copied().unwrap_or(tail.len());
        frozen.extend(self.hand_out(text, from, &starts[..n_final], from + open_start, head));
        let open_src = &tail[open_start..];
        let open = match close_open_inlines(open_src) {
            Some(fixed) => render(&fixed),
            None => render(open_src),
        };
        self.frozen_len = from + if n_final > 0 { open_start } else { 0 };
        // One open block that is a code fence or a list: from now on,
        // updates read only where it grows.
        let at = from + open_start;
        self.tail = match open.as_slice() {
            [VNode::El(e)] if starts.len() == n_final + 1 => match e.tag {
                Tag::Ul | Tag::Ol => OpenList::begin(text, at).map(OpenTail::List),
                _ => OpenFence::begin(text, at).map(OpenTail::Fence),
            },
            _ => None,
        };
        self.open_before = open.len();
        Frame {
            reset,
            frozen,
            open,
        }
    }

    /// Where the blocks in `text` begin, parsed.
    fn block_starts(&self, text: &str) -> Vec<usize> {
        #[cfg(test)]
        self.parsed_bytes.set(self.parsed_bytes.get() + text.len());
        block_starts(text)
    }

    /// Where parsing the text from `base` on can start instead, and the
    /// blocks before that point. A long tail is skimmed: its first
    /// blocks, up to the first start [`sure_block_starts`] finds, are
    /// parsed and handed out (the open ones among them rendered), the
    /// rest up to the last start it finds that leaves
    /// [`Deferral::eager_bytes`] after it is handed out as source, cut at
    /// the starts it found. Otherwise parsing starts at `base`. Also
    /// gives how many of the blocks from that point on were open.
    fn skim(&self, text: &str, base: usize) -> (usize, usize, Vec<Final>) {
        let d = self.deferral;
        let none = (base, self.open_before, Vec::new());
        if text.len() - base < d.skim_from.max(1) {
            return none;
        }
        // Complete lines only, ending before the last `eager_bytes`.
        let limit = text.len().saturating_sub(d.eager_bytes).max(base);
        let Some(to) = text.as_bytes()[base..limit]
            .iter()
            .rposition(|&b| b == b'\n')
        else {
            return none;
        };
        let starts = sure_block_starts(text, base, base + to + 1);
        // The blocks that were open come first, rendered: the view
        // patches their elements.
        let mut head = Vec::new();
        let mut first = 0;
        while first < starts.len() {
            head = self.block_starts(&text[base..starts[first]]);
            if head.len() >= self.open_before {
                break;
            }
            first += 1;
        }
        let starts = &starts[first.min(starts.len())..];
        let (Some(&cut), Some(&last)) = (starts.first(), starts.last()) else {
            return none;
        };
        if starts.len() - 1 < d.min_run.max(1) {
            return none;
        }
        let mut out = self.hand_out(text, base, &head, cut, self.open_before);
        out.extend(starts.windows(2).map(|w| Final::Source(w[0]..w[1])));
        (last, 0, out)
    }

    /// The blocks starting at `starts` (relative to `base`; the last one
    /// ends at `end`), rendered, except a long run in the middle handed
    /// out as source.
    /// The first `head` blocks were open: the view has their elements.
    fn hand_out(
        &self,
        text: &str,
        base: usize,
        starts: &[usize],
        end: usize,
        head: usize,
    ) -> Vec<Final> {
        let n = starts.len();
        let start = |i: usize| starts.get(i).map_or(end, |s| base + s);
        let rendered = |from: usize, to: usize| {
            let nodes = if from < to {
                render(&text[start(from)..start(to)])
            } else {
                Vec::new()
            };
            nodes.into_iter().map(Final::Node)
        };
        // The first blocks were open: the view patches their elements.
        let head = head.min(n);
        let tail_from = n.saturating_sub(self.deferral.eager_tail).max(head);
        if tail_from - head < self.deferral.min_run.max(1) {
            return rendered(0, n).collect();
        }
        let mut out: Vec<Final> = rendered(0, head).collect();
        out.extend((head..tail_from).map(|i| Final::Source(start(i)..start(i + 1))));
        out.extend(rendered(tail_from, n));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What a view shows after applying frames, and every block it was
    /// asked to freeze.
    #[derive(Default)]
    struct View {
        frozen: Vec<VNode>,
        open: Vec<VNode>,
        /// Blocks handed out as source.
        deferred: usize,
    }

    impl View {
        /// Applies `f`, rendering blocks handed out as source from `text`
        /// (the text the frame was made from).
        fn apply(&mut self, f: Frame, text: &str) -> Vec<VNode> {
            if f.reset {
                self.frozen.clear();
                self.open.clear();
            }
            // The blocks that were open come rendered: the view patches them.
            let leading = f.frozen.iter().take_while(|b| matches!(b, Final::Node(_)));
            assert!(leading.count() >= self.open.len().min(f.frozen.len()));
            let mut new = Vec::new();
            for block in f.frozen {
                match block {
                    Final::Node(n) => new.push(n),
                    Final::Source(r) => {
                        let nodes = render(&text[r]);
                        assert!(!nodes.is_empty(), "a source range holds a block");
                        self.deferred += nodes.len();
                        new.extend(nodes);
                    }
                }
            }
            self.frozen.extend(new.iter().cloned());
            self.open = f.open;
            new
        }

        fn shown(&self) -> Vec<VNode> {
            self.frozen.iter().chain(&self.open).cloned().collect()
        }
    }

    #[test]
    fn a_link_definition_is_suspected_only_where_one_may_be() {
        for (text, may) in [
            ("[a]: /u\n", true),
            ("x\n\n - > [a]: /u", true),
            ("x [a]: /u", false),
            ("[a] : /u\n[b]\n", false),
            ("a]:", false),
            ("", false),
            ("]", false),
        ] {
            assert_eq!(may_define_links(text), may, "{text:?}");
        }
    }

    const DOC: &str = "# Title\n\nA paragraph with **bold**, *em*, `code` and a [link](https://example.com).\nIt goes on.\n\n- one\n- two\n  continued\n\n  inner para\n- three\n\n```python\ndef f():\n    return '**'\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n> quote\nlazy\n\npara\n# heading\npara\n***\n1. x\n2. y\n\n    indented code\n\n<div>html</div>\n\nend ~~s~~\n";

    /// Skims any tail, however short.
    const SKIMMING: Deferral = Deferral {
        eager_tail: 1,
        min_run: 1,
        skim_from: 1,
        eager_bytes: 0,
    };

    fn stream(doc: &str, cuts: &[usize]) -> (View, Vec<VNode>) {
        stream_with(StreamRenderer::new(), doc, cuts)
    }

    fn stream_with(mut r: StreamRenderer, doc: &str, cuts: &[usize]) -> (View, Vec<VNode>) {
        let mut view = View::default();
        let mut all_frozen = Vec::new();
        for &cut in cuts {
            let f = r.update(&doc[..cut], true);
            assert!(!f.reset);
            all_frozen.extend(view.apply(f, &doc[..cut]));
        }
        view.apply(r.update(doc, false), doc);
        (view, all_frozen)
    }

    fn char_cuts(doc: &str, step: usize) -> Vec<usize> {
        (1..doc.len())
            .filter(|i| doc.is_char_boundary(*i) && i % step == 0)
            .collect()
    }

    #[test]
    fn streaming_ends_exactly_as_a_whole_render() {
        let eager = Deferral::default();
        let deferring = Deferral {
            eager_tail: 1,
            min_run: 1,
            ..Deferral::default()
        };
        for (step, deferral) in [1, 2, 3, 7, 40, 200]
            .into_iter()
            .flat_map(|s| [(s, eager), (s, deferring), (s, SKIMMING)])
        {
            let r = StreamRenderer::with_deferral(deferral);
            let (view, frozen_while_streaming) = stream_with(r, DOC, &char_cuts(DOC, step));
            let whole = render(DOC);
            assert_eq!(view.shown(), whole, "step {step}");
            // Every block frozen mid-stream is the final block, in order.
            assert_eq!(
                frozen_while_streaming[..],
                whole[..frozen_while_streaming.len()],
                "step {step}"
            );
            assert!(
                step > 7 || frozen_while_streaming.len() >= whole.len() - 2,
                "most blocks freeze while streaming (step {step})"
            );
        }
    }

    #[test]
    fn only_the_open_tail_is_reparsed() {
        let mut r = StreamRenderer::new();
        let para = "A paragraph of text that is long enough.\n\n";
        let mut text = String::new();
        for _ in 0..200 {
            text.push_str(para);
            let f = r.update(&text, true);
            assert!(f.open.len() <= 1);
        }
        assert!(
            r.frozen_len() >= text.len() - para.len(),
            "{} of {}",
            r.frozen_len(),
            text.len()
        );
    }

    #[test]
    fn a_block_is_not_frozen_on_an_incomplete_line() {
        // `#` alone is a heading that interrupts the paragraph, but
        // `#include` is not: the paragraph must stay open meanwhile.
        let mut r = StreamRenderer::new();
        let f = r.update("para\n#", true);
        assert!(f.frozen.is_empty());
        let f = r.update("para\n#include", true);
        assert!(f.frozen.is_empty());
        let end = r.update("para\n#include <x>\n", false);
        let nodes: Vec<Final> = render("para\n#include <x>\n")
            .into_iter()
            .map(Final::Node)
            .collect();
        assert_eq!(end.frozen, nodes);
    }

    /// A burst: 200 blocks arrive in one update, then the reply ends.
    fn burst() -> String {
        (0..200)
            .map(|i| match i % 4 {
                0 => format!("Paragraph {i} with **bold** and `code`.\n\n"),
                1 => format!("- item {i}\n- another\n\n"),
                2 => format!("```rust\nfn f{i}() {{}}\n```\n\n"),
                _ => format!("> quote {i}\n\n"),
            })
            .collect()
    }

    #[test]
    fn a_burst_hands_out_what_is_out_of_sight_as_source() {
        let text = burst();
        let mut r = StreamRenderer::new();
        let f = r.update(&text[..text.len() - 10], true);
        let kinds: Vec<bool> = f
            .frozen
            .iter()
            .map(|b| matches!(b, Final::Source(_)))
            .collect();
        // The last block and the one before it are open (the last line is
        // incomplete). Nothing was open before: all but the last 48 final
        // blocks come as source, and those last ones rendered.
        assert_eq!(kinds.len(), 198);
        assert!(kinds[..150].iter().all(|&s| s), "{kinds:?}");
        assert!(kinds[150..].iter().all(|&s| !s), "{kinds:?}");
        let mut view = View::default();
        view.apply(f, &text[..text.len() - 10]);
        view.apply(r.update(&text, false), &text);
        assert_eq!(view.shown(), render(&text));
        assert_eq!(view.deferred, 150);
    }

    #[test]
    fn a_burst_at_the_end_keeps_the_open_block_rendered() {
        // The open paragraph had an element: it comes back rendered.
        let text = burst();
        let mut r = StreamRenderer::new();
        r.update("Paragraph 0 with", true);
        let f = r.update(&text, false);
        assert!(matches!(f.frozen[0], Final::Node(_)));
        assert!(matches!(f.frozen[1], Final::Source(_)));
        let sources = f
            .frozen
            .iter()
            .filter(|b| matches!(b, Final::Source(_)))
            .count();
        assert_eq!(sources, 200 - 1 - 48);
    }

    #[test]
    fn link_definitions_in_a_burst_render_the_whole_reply() {
        let text = format!(
            "See [the docs][d].\n\n{}[d]: https://example.com\n",
            burst()
        );
        for streamed in [0, 30, text.len() - 10] {
            let mut r = StreamRenderer::new();
            let mut view = View::default();
            if streamed > 0 {
                view.apply(r.update(&text[..streamed], true), &text[..streamed]);
            }
            view.apply(r.update(&text, false), &text);
            assert_eq!(view.shown(), render(&text), "streamed {streamed}");
        }
    }

    #[test]
    fn a_long_burst_is_skimmed_not_parsed() {
        let text = burst().repeat(10);
        assert!(text.len() > 40_000);
        let d = Deferral::default();
        for streamed in [0, 20, 20_000] {
            let mut r = StreamRenderer::new();
            let mut view = View::default();
            if streamed > 0 {
                view.apply(r.update(&text[..streamed], true), &text[..streamed]);
            }
            let before = r.parsed_bytes.get();
            let f = r.update(&text, false);
            let parsed = r.parsed_bytes.get() - before;
            // What follows the last start found before the last 8 KB,
            // and what precedes the first (a paragraph comes every 200
            // bytes or so here).
            assert!(
                parsed < d.eager_bytes + 600,
                "parsed {parsed} of {}",
                text.len()
            );
            assert!(matches!(f.frozen[0], Final::Node(_)), "{streamed}");
            view.apply(f, &text);
            assert_eq!(view.shown(), render(&text), "streamed {streamed}");
        }
        // Streaming, the same.
        let mut r = StreamRenderer::new();
        r.update(&text[..text.len() - 3], true);
        assert!(r.parsed_bytes.get() < d.eager_bytes + 600);
        assert!(r.frozen_len() > text.len() - d.eager_bytes - 600);
    }

    #[test]
    fn a_skimmed_burst_renders_the_blocks_that_were_open() {
        // Two blocks are open: the second's line may head a table. Then a
        // burst whose first start found by the scan is that second block.
        let start = "A para\n\nBx | y\n";
        let text = format!("{start}\n{}", burst().repeat(10));
        let mut r = StreamRenderer::new();
        let mut view = View::default();
        let f = r.update(start, true);
        assert_eq!(f.open.len(), 2);
        view.apply(f, start);
        let f = r.update(&text, false);
        assert!(f.frozen[..2].iter().all(|b| matches!(b, Final::Node(_))));
        assert!(f.frozen.iter().any(|b| matches!(b, Final::Source(_))));
        view.apply(f, &text);
        assert_eq!(view.shown(), render(&text));
    }

    #[test]
    fn a_skimmed_text_stays_handed_out_while_its_last_block_is_open() {
        let doc = "a\n\nb\n\nc\n\nd\n\ne\n";
        let (view, frozen) = stream_with(StreamRenderer::with_deferral(SKIMMING), doc, &[9, 12]);
        assert_eq!(view.shown(), render(doc));
        assert_eq!(frozen[..], render(doc)[..frozen.len()]);
    }

    #[test]
    fn short_runs_are_rendered_at_once() {
        let text: String = burst().split_inclusive("\n\n").take(70).collect();
        let f = StreamRenderer::new().update(&text, false);
        assert!(f.frozen.iter().all(|b| matches!(b, Final::Node(_))));
        assert_eq!(f.frozen.len(), 70);
    }

    #[test]
    fn reference_definitions_rerender_the_finished_reply() {
        let text = "See [the docs][d].\n\nMore text.\n\n[d]: https://example.com\n";
        let (view, _) = stream(text, &char_cuts(text, 1));
        assert_eq!(view.shown(), render(text));
        assert!(
            crate::markdown::vnode::to_html(&view.shown()).contains("href=\"https://example.com\"")
        );
    }

    #[test]
    fn a_line_that_may_head_a_table_waits_for_the_next_one() {
        // At `…\n|-` a table has interrupted the paragraph; at `|- ~~` it
        // has not: the paragraph was not final.
        let doc = ")- \n|# ~~\n|- ~~";
        let (view, _) = stream(doc, &char_cuts(doc, 1));
        assert_eq!(view.shown(), render(doc));
        // A complete delimiter row settles it.
        let doc = "para\n| a |\n|---|\n| 1 |\n\nafter";
        let (view, frozen) = stream(doc, &char_cuts(doc, 1));
        assert_eq!(view.shown(), render(doc));
        assert_eq!(frozen.len(), 1, "the paragraph, once the table was sure");
    }

    #[test]
    fn a_replaced_text_starts_over() {
        let mut r = StreamRenderer::new();
        r.update("first paragraph\n\nsecond\n\nthird", true);
        let f = r.update("new", true);
        assert!(f.reset);
        assert_eq!(f.open, render("new"));
        let f = r.update("new", false);
        assert!(!f.reset);
        let f = r.update("again", false);
        assert!(f.reset, "an update after the end starts over");
    }

    /// Every block a frame hands out: the frozen ones, then the open.
    fn shown_by(f: Frame) -> Vec<Final> {
        let mut all = f.frozen;
        all.extend(f.open.into_iter().map(Final::Node));
        all
    }

    /// The open blocks a renderer that has seen nothing before shows for
    /// `text`: what the whole open tail, parsed again, gives.
    fn open_afresh(text: &str) -> Vec<VNode> {
        StreamRenderer::new().update(text, true).open
    }

    #[test]
    fn an_open_code_fence_is_read_only_where_it_grows() {
        let code: String = (0..400)
            .map(|i| match i % 6 {
                0 => "\n".to_string(),
                1 => format!("/* note {i}\n   more */\n"),
                2 => format!("let s = \"text {i}\"; // `tick`\n"),
                3 => "  ```not a fence\n    ```\n".to_string(),
                _ => format!("fn f{i}() -> u8 {{ {i} }}\n"),
            })
            .collect();
        let text = format!("Intro **text**.\n\n```rust title=x\n{code}```\n\nAfter.\n");
        let fence_at = text.find("```rust").unwrap();
        let close_at = text.rfind("```").unwrap();
        let mut r = StreamRenderer::new();
        let mut view = View::default();
        let (mut end, mut step, mut fast, mut max_kept) = (0, 1, 0, 0);
        while end < text.len() {
            end = (end + step).min(text.len());
            step = step % 89 + 7;
            let was_open = r.fence_start().is_some();
            let parses = r.parses;
            let f = r.update(&text[..end], true);
            if r.fence_start().is_some() {
                fast += 1;
                assert!(!was_open || r.parses == parses, "parsed again at {end}");
                // Only the code block is open; it shows what parsing the
                // open tail again shows.
                assert!(!was_open || f.frozen.is_empty());
                assert_eq!(f.open, open_afresh(&text[fence_at..end]), "at {end}");
                max_kept = max_kept.max(crate::markdown::render::tests::shared_groups(&f.open[0]));
            } else {
                assert!(
                    end < fence_at + "```rust title=x\n".len() || end > close_at,
                    "the fence was read again at {end}"
                );
            }
            view.apply(f, &text[..end]);
        }
        assert!(fast > 100, "{fast} updates read only the new text");
        // Every group but the last was kept.
        let groups = crate::markdown::vnode::to_html(&render(&text))
            .matches("class=\"code-lines\"")
            .count();
        assert!(groups > 15);
        assert_eq!(max_kept, groups - 1);
        view.apply(r.update(&text, false), &text);
        assert_eq!(view.shown(), render(&text));
    }

    #[test]
    fn a_fence_that_closes_or_is_not_plain_code_is_parsed_again() {
        for (text, more) in [
            // Closed: what follows is a new block.
            ("```\na\n", "```\npara *x*"),
            ("~~~~ py\na\n", "  ~~~~~  \nb"),
            // A fence mark on its way is not code, until it is.
            ("```\na\n", "``"),
            // Characters the parser changes.
            ("```\na\n", "b\r\nc"),
            ("```\na\n", "b\0c"),
        ] {
            let mut r = StreamRenderer::new();
            r.update(text, true);
            assert!(r.fence_start().is_some(), "{text:?}");
            let all = format!("{text}{more}");
            let f = r.update(&all, true);
            let expected = StreamRenderer::new().update(&all, true);
            assert_eq!(shown_by(f), shown_by(expected), "{all:?}");
        }
        // Blank lines before the fence (a reply that starts with them).
        let mut r = StreamRenderer::new();
        r.update("\n\n```\na\n", true);
        assert!(r.fence_start().is_some());
        let f = r.update("\n\n```\na\nb", true);
        assert_eq!(f.open, open_afresh("\n\n```\na\nb"));
        assert_eq!(r.parses, 1, "read only where it grew");
        // Not at the start of a line, or not a fence: parsed each time.
        for text in ["   ```\na\n", "```a`b\nc\n", "- ```\na\n", "``\na\n"] {
            let mut r = StreamRenderer::new();
            r.update(text, true);
            assert!(r.fence_start().is_none(), "{text:?}");
        }
    }

    #[test]
    fn an_open_list_is_read_only_where_it_grows() {
        let items: String = (0..300)
            .map(|i| match i % 7 {
                0 => format!("- item {i} with **bold** and `code`\n"),
                1 => format!("- item {i}\n  lazy *line*\n  - nested {i}\n"),
                2 => format!("- [ ] task {i} [link](https://example.com/{i})\n"),
                3 => format!("- item {i}\n  ```py\n  x = {i}\n\n  ```\n"),
                _ => format!("- item {i} ~~gone~~ <b>raw</b>\n"),
            })
            .collect();
        let text = format!("Intro.\n\n{items}\nAfter.\n");
        let list_at = text.find("- item 0").unwrap();
        let list_end = text.find("\nAfter").unwrap();
        // Until the list's first line is complete, the intro is open too.
        let first_line_end = list_at + text[list_at..].find('\n').unwrap();
        let mut r = StreamRenderer::new();
        let mut view = View::default();
        let (mut end, mut step) = (0, 1);
        let (mut fast, mut again, mut max_kept) = (0, Vec::new(), 0);
        while end < text.len() {
            end = (end + step).min(text.len());
            step = step % 61 + 5;
            let parses = r.parses;
            let f = r.update(&text[..end], true);
            if end > first_line_end && end < list_end {
                // Only the list is open; it shows what parsing the open
                // tail again shows.
                assert_eq!(f.open, open_afresh(&text[list_at..end]), "at {end}");
                if r.parses == parses {
                    fast += 1;
                    assert!(f.frozen.is_empty());
                } else {
                    again.push(end);
                }
                max_kept = max_kept.max(r.list_state().map_or(0, |(_, kept)| kept));
            }
            view.apply(f, &text[..end]);
        }
        // Parsed again only where the tail did not show whether the list
        // is loose: `- item\n  lazy\n  -`, where the last line makes a
        // heading until it has text.
        assert!(again.len() <= 3, "parsed again at {again:?}");
        assert!(fast > 100, "{fast} updates read only the new text");
        assert!(max_kept > 290, "{max_kept} items kept");
        // Once the last item's line is complete, all items but the last
        // are kept.
        let mut whole = StreamRenderer::new();
        whole.update(&text[..list_end - 10], true);
        whole.update(&text[..list_end], true);
        assert_eq!(whole.list_state(), Some((list_at, 299)));
        view.apply(r.update(&text, false), &text);
        assert_eq!(view.shown(), render(&text));
    }

    #[test]
    fn a_list_that_ends_or_turns_loose_is_parsed_again() {
        for (text, more, fast) in [
            // Tight, then a blank line between items: loose.
            ("- a\n- b\n", "\n- c\n", false),
            // Loose stays loose.
            ("- a\n\n- b\n", "\n- c\n- d", true),
            // Another block after the list.
            ("- a\n- b\n", "\npara", false),
            ("- a\n- b\n", "# h", false),
            // Another marker: another list.
            ("- a\n- b\n", "+ c\n", false),
            ("1. a\n2. b\n", "3) c\n", false),
            // A link reference definition.
            ("- a [x]\n- b\n", "- [x]: https://example.com\n", false),
            // Lazy continuation and nesting stay in the list.
            ("- a\n- b\n", "lazy\n  - c\n", true),
            ("3. a\n4. b\n", "5. c\n", true),
        ] {
            let mut r = StreamRenderer::new();
            r.update(text, true);
            assert!(r.list_state().is_some(), "{text:?}");
            let all = format!("{text}{more}");
            let f = r.update(&all, true);
            assert_eq!(r.parses == 1, fast, "{all:?}");
            let expected = StreamRenderer::new().update(&all, true);
            assert_eq!(shown_by(f), shown_by(expected), "{all:?}");
        }
        // Items without text do not show whether the list is loose.
        let mut r = StreamRenderer::new();
        r.update("- ```\n  a\n  ```\n", true);
        assert!(r.list_state().is_none());
    }

    /// Streams `doc` in steps of about `step` bytes. Wherever the block
    /// read only where it grows (found by `open_at`) is the same before
    /// and after an update, that update freezes nothing and shows what
    /// parsing the open tail again shows.
    fn read_where_it_grows_as_parsed(
        doc: &str,
        step: usize,
        open_at: impl Fn(&StreamRenderer) -> Option<usize>,
    ) -> Result<(), TestCaseError> {
        let mut r = StreamRenderer::new();
        let mut end = 0;
        while end < doc.len() {
            end = (end + step).min(doc.len());
            while !doc.is_char_boundary(end) {
                end += 1;
            }
            let was_open = open_at(&r);
            let f = r.update(&doc[..end], true);
            if was_open.is_some() && open_at(&r) == was_open {
                prop_assert!(f.frozen.is_empty());
                prop_assert_eq!(f.open, open_afresh(&doc[..end]), "at {}", end);
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// However an open code fence grows, reading only what was
        /// appended shows what parsing it again shows.
        #[test]
        fn any_chunking_of_a_code_fence_shows_what_the_parser_reads(
            open in prop_oneof![Just("```rust\n"), Just("~~~~ py\n"), Just("```\n"), Just("``` js {x}\n")],
            pieces in proptest::collection::vec(prop_oneof![
                Just("\n"), Just("\n"), Just("x"), Just(" "), Just("   "), Just("    "), Just("\t"),
                Just("`"), Just("```"), Just("````"), Just("~"), Just("~~~"), Just("~~~~"),
                Just("*"), Just("**"), Just("\""), Just("/*"), Just("#"), Just("- "), Just("> "),
                Just("中"), Just("&amp;"), Just("<b>"),
            ], 0..120),
            step in 1usize..12,
        ) {
            let doc = format!("{open}{}", pieces.concat());
            read_where_it_grows_as_parsed(&doc, step, StreamRenderer::fence_start)?;
        }

        /// However an open list grows, reading it from its last item
        /// shows what parsing it again shows.
        #[test]
        fn any_chunking_of_a_list_shows_what_the_parser_reads(
            first in prop_oneof![Just("- "), Just("* "), Just("1. "), Just("7) "), Just(" - "), Just("- [x] ")],
            pieces in proptest::collection::vec(prop_oneof![
                Just("\n- "), Just("\n- "), Just("\n* "), Just("\n1. "), Just("\n2) "), Just("\n  - "),
                Just("\n   - "), Just("\n    - "), Just("\n\n"), Just("\n"), Just("\n  "), Just("\n    "),
                Just("word "), Just("word "), Just("**"), Just("*"), Just("_"), Just("`"), Just("```"),
                Just("~~~"), Just("~~"), Just("[a](http://x)"), Just("[b]"),
                Just("\n> "), Just("\n# "), Just("\n---"), Just("\n- [ ] "), Just("\t"), Just("<b>"),
                Just("中"), Just("&amp;"), Just("|"), Just("\\"), Just("-"),
            ], 0..80),
            step in 1usize..10,
        ) {
            let doc = format!("{first}{}", pieces.concat());
            // Definitions make the whole text render again at the end,
            // and a fresh parse may cut blocks where the stream did not.
            prop_assume!(!may_define_links(&doc));
            read_where_it_grows_as_parsed(&doc, step, |r| r.list_state().map(|(start, _)| start))?;
            let (view, _) = stream(&doc, &char_cuts(&doc, step));
            prop_assert_eq!(view.shown(), render(&doc));
        }

        /// However a text arrives in bursts, skimmed or parsed, it ends
        /// as a whole render, and every block frozen on the way is final.
        #[test]
        fn any_bursts_of_markdown_end_exact(
            lines in proptest::collection::vec(crate::markdown::scan::tests::line(), 0..60),
            cuts in proptest::collection::vec(0usize..1000, 0..6),
            eager_bytes in 0usize..40,
        ) {
            let doc: String = lines.concat();
            let mut cuts: Vec<usize> = cuts.iter().map(|c| c * doc.len() / 1000).collect();
            cuts.retain(|&c| c > 0 && doc.is_char_boundary(c));
            cuts.sort_unstable();
            let whole = render(&doc);
            for d in [SKIMMING, Deferral { eager_bytes, ..SKIMMING }, Deferral::default()] {
                let (view, frozen) = stream_with(StreamRenderer::with_deferral(d), &doc, &cuts);
                prop_assert_eq!(view.shown(), whole.clone());
                prop_assert_eq!(&frozen[..], &whole[..frozen.len()]);
            }
        }

        #[test]
        fn any_chunking_of_markdown_ends_exact(
            pieces in proptest::collection::vec(prop_oneof![
                Just("word "), Just("**"), Just("*"), Just("`"), Just("```"), Just("\n"), Just("\n\n"),
                Just("- "), Just("1. "), Just("# "), Just("> "), Just("|"), Just("---"), Just("~~"),
                Just("["), Just("]("), Just(")"), Just("    "), Just("<div>"), Just("中文"), Just("_"),
            ], 0..60),
            step in 1usize..9,
        ) {
            let doc: String = pieces.concat();
            prop_assume!(!may_define_links(&doc));
            let whole = render(&doc);
            for r in [
                StreamRenderer::new(),
                StreamRenderer::with_deferral(Deferral { eager_tail: 1, min_run: 1, ..Deferral::default() }),
                StreamRenderer::with_deferral(SKIMMING),
                StreamRenderer::with_deferral(Deferral { eager_bytes: 7, ..SKIMMING }),
            ] {
                let (view, frozen) = stream_with(r, &doc, &char_cuts(&doc, step));
                prop_assert_eq!(view.shown(), whole.clone());
                prop_assert_eq!(&frozen[..], &whole[..frozen.len()]);
            }
        }
    }
}
