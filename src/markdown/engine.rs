//! The markdown renderer as one value the page loads after its first
//! paint. Its code (pulldown-cmark and its entity table, the highlighter,
//! the incremental renderer) is reachable only through [`load`], a split
//! point: the release build (`cargo xtask wasm`) moves it into a module of
//! its own, fetched when the app has mounted. Natively, and in a build
//! that is not split, [`load`] returns at once.

use super::render::render;
use super::scan::sure_block_starts;
use super::stream::may_define_links;
use super::{Frame, StreamRenderer, VNode};

/// A reply's renderer: what [`StreamRenderer`] does, behind a pointer
/// (its code lives in the renderer's module).
pub trait Stream {
    /// See [`StreamRenderer::update`].
    fn update(&mut self, text: &str, streaming: bool) -> Frame;
}

impl Stream for StreamRenderer {
    fn update(&mut self, text: &str, streaming: bool) -> Frame {
        StreamRenderer::update(self, text, streaming)
    }
}

/// What the view needs of the renderer.
pub struct Engine {
    /// A renderer for a new reply.
    pub stream: fn() -> Box<dyn Stream>,
    /// The whole text rendered at once.
    pub render: fn(&str) -> Vec<VNode>,
    /// What the end of a long burst reads all of: whether the text may
    /// define links, and how many top-level blocks surely begin in it
    /// ([`sure_block_starts`]). For the warm-up (see `markdown_view`).
    pub scan: fn(&str) -> (bool, usize),
}

fn scan(text: &str) -> (bool, usize) {
    (
        may_define_links(text),
        sure_block_starts(text, 0, text.len()).len(),
    )
}

fn new_stream() -> Box<dyn Stream> {
    Box::new(StreamRenderer::new())
}

static ENGINE: Engine = Engine {
    stream: new_stream,
    render,
    scan,
};

pub use crate::split::LoadFailed;

/// The renderer, once its module is loaded. A failed load is not
/// remembered: the next call tries again.
#[wasm_split_helpers::wasm_split(markdown, fallible)]
pub fn load() -> Result<&'static Engine, LoadFailed> {
    Ok(&ENGINE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::markdown::vnode::to_html;

    /// Natively the split point is a plain call, and what it hands out is
    /// the renderer itself: the same nodes, the same frames.
    #[test]
    fn the_loaded_engine_is_the_renderer() {
        let engine = crate::split::ready_now(load()).expect("no module to fetch natively");
        let md = "# T\n\nSome *text* and `code`.\n\n```rust\nfn f() {}\n```\n";
        assert_eq!(to_html(&(engine.render)(md)), to_html(&render(md)));
        let long = "A.\n\nB.\n\n```\n\nC.\n```\n\nD.\n";
        assert_eq!((engine.scan)(long), (false, 2));
        assert_eq!((engine.scan)("[a]: /u\n\nB.\n"), (true, 1));
        let mut ours = (engine.stream)();
        let mut plain = StreamRenderer::new();
        for cut in [5, 20, md.len()] {
            let streaming = cut < md.len();
            assert_eq!(
                ours.update(&md[..cut], streaming),
                plain.update(&md[..cut], streaming)
            );
        }
    }
}
