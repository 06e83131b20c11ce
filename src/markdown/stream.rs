//! Incremental rendering of a reply that grows at its end.
//!
//! A top-level block is final once the next block has begun on a complete
//! line: CommonMark decides block structure line by line and never
//! reopens a closed block. Final blocks are handed out once and never
//! rendered again; only the open tail (usually one block) is re-parsed on
//! each update, so the cost of an update does not grow with the reply.
//! The open tail is repaired with [`close_open_inlines`] so unfinished
//! markup does not flicker.

use super::remend::close_open_inlines;
use super::render::{parse_blocks, render};
use super::vnode::VNode;

#[derive(Debug, Default)]
pub struct StreamRenderer {
    /// Bytes of the text already handed out as final blocks.
    frozen_len: usize,
    finished: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Frame {
    /// Remove everything shown before (the text was replaced, or link
    /// reference definitions in a finished reply could change blocks
    /// rendered earlier).
    pub reset: bool,
    /// Blocks to append for good.
    pub frozen: Vec<VNode>,
    /// The open blocks to show after all frozen ones, replacing the
    /// previous open blocks.
    pub open: Vec<VNode>,
}

/// Whether the text may hold a link reference definition, which can
/// change how earlier blocks render.
fn may_define_links(text: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim_start_matches([' ', '>', '\t']);
        l.starts_with('[') && l.contains("]:")
    })
}

impl StreamRenderer {
    pub fn new() -> Self {
        Self::default()
    }

    /// How many bytes of the text are final and rendered for good.
    #[cfg(test)]
    pub fn frozen_len(&self) -> usize {
        self.frozen_len
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
            reset = true;
        }
        if !streaming {
            self.finished = true;
            if self.frozen_len > 0 && may_define_links(text) {
                self.frozen_len = text.len();
                return Frame {
                    reset: true,
                    frozen: render(text),
                    open: Vec::new(),
                };
            }
            let frozen = render(&text[self.frozen_len..]);
            self.frozen_len = text.len();
            return Frame {
                reset,
                frozen,
                open: Vec::new(),
            };
        }
        let tail = &text[self.frozen_len..];
        let mut blocks = parse_blocks(tail);
        // Blocks whose successor starts on a complete line are final.
        let complete_to = tail.rfind('\n').map_or(0, |i| i + 1);
        let n_final = (1..blocks.len())
            .take_while(|&i| blocks[i].line_start < complete_to)
            .count();
        let open_blocks = blocks.split_off(n_final);
        let open_start = open_blocks.first().map_or(tail.len(), |b| b.line_start);
        let open = match close_open_inlines(&tail[open_start..]) {
            Some(fixed) => render(&fixed),
            None => open_blocks.into_iter().map(|b| b.node).collect(),
        };
        if n_final > 0 {
            self.frozen_len += open_start;
        }
        Frame {
            reset,
            frozen: blocks.into_iter().map(|b| b.node).collect(),
            open,
        }
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
    }

    impl View {
        fn apply(&mut self, f: Frame) {
            if f.reset {
                self.frozen.clear();
            }
            self.frozen.extend(f.frozen);
            self.open = f.open;
        }

        fn shown(&self) -> Vec<VNode> {
            self.frozen.iter().chain(&self.open).cloned().collect()
        }
    }

    const DOC: &str = "# Title\n\nA paragraph with **bold**, *em*, `code` and a [link](https://example.com).\nIt goes on.\n\n- one\n- two\n  continued\n\n  inner para\n- three\n\n```python\ndef f():\n    return '**'\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n> quote\nlazy\n\npara\n# heading\npara\n***\n1. x\n2. y\n\n    indented code\n\n<div>html</div>\n\nend ~~s~~\n";

    fn stream(doc: &str, cuts: &[usize]) -> (View, Vec<VNode>) {
        let mut r = StreamRenderer::new();
        let mut view = View::default();
        let mut all_frozen = Vec::new();
        for &cut in cuts {
            let f = r.update(&doc[..cut], true);
            assert!(!f.reset);
            all_frozen.extend(f.frozen.clone());
            view.apply(f);
        }
        view.apply(r.update(doc, false));
        (view, all_frozen)
    }

    fn char_cuts(doc: &str, step: usize) -> Vec<usize> {
        (1..doc.len())
            .filter(|i| doc.is_char_boundary(*i) && i % step == 0)
            .collect()
    }

    #[test]
    fn streaming_ends_exactly_as_a_whole_render() {
        for step in [1, 2, 3, 7, 40] {
            let (view, frozen_while_streaming) = stream(DOC, &char_cuts(DOC, step));
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
        assert_eq!(end.frozen, render("para\n#include <x>\n"));
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

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
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
            let (view, frozen) = stream(&doc, &char_cuts(&doc, step));
            let whole = render(&doc);
            prop_assert_eq!(view.shown(), whole.clone());
            prop_assert_eq!(&frozen[..], &whole[..frozen.len()]);
        }
    }
}
