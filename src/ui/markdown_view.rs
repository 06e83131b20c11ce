//! Puts rendered markdown into the DOM: frozen blocks are appended once,
//! the open blocks are patched in place (only the nodes that changed),
//! and all of it happens at most once per animation frame, however fast
//! tokens arrive.

use leptos::html::Div;
use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Document, Element as DomElement, Node};

use crate::chat::Status;
use crate::markdown::ops::{self, Ops};
use crate::markdown::{Frame, StreamRenderer, VNode};

use super::lazy;

#[wasm_bindgen(module = "/src/ui/dom_build.js")]
extern "C" {
    /// Runs a program from [`Ops`]: builds its nodes off the page and
    /// inserts them into `parent` before `before` (at the end if none).
    #[wasm_bindgen(catch, js_name = buildInto)]
    fn build_into(
        parent: &Node,
        before: Option<&Node>,
        names: &str,
        codes: &[u32],
        text: &str,
    ) -> Result<(), JsValue>;
}

/// Builds DOM for `nodes` and inserts it into `parent` before `before`
/// (at the end if none): elements and attributes from the closed lists in
/// `VNode`, text as text nodes. Nothing is ever parsed as HTML.
fn insert(parent: &Node, before: Option<&Node>, nodes: &[VNode]) {
    let ops = Ops::of(nodes);
    if ops.is_empty() {
        return;
    }
    if let Err(e) = build_into(parent, before, ops::names(), &ops.codes, &ops.text) {
        // Only a bug in the encoder can get here; the reply's text is
        // still in its signal, so show the error rather than a dead page.
        leptos::logging::error!("chatwire: rendering failed: {e:?}");
    }
}

/// Makes `parent`'s children from index `offset` on show `new`, given
/// that they show `old` now. Equal nodes are left alone; a text change
/// updates the text node; an element with the same tag and attributes is
/// patched recursively; anything else is replaced.
fn patch(parent: &Node, offset: usize, old: &[VNode], new: &[VNode]) {
    let kids = parent.child_nodes();
    for (i, n) in new.iter().enumerate() {
        let Some(dom) = kids.item((offset + i) as u32) else {
            // Past the nodes there are: the rest is appended at once.
            insert(parent, None, &new[i..]);
            return;
        };
        match old.get(i) {
            Some(o) if o == n => {}
            Some(VNode::Text(_)) if matches!(n, VNode::Text(_)) => {
                if let VNode::Text(t) = n {
                    dom.set_node_value(Some(t));
                }
            }
            Some(VNode::El(o)) if matches!(n, VNode::El(e) if e.same_shell(o)) => {
                if let VNode::El(e) = n {
                    patch(&dom, 0, &o.children, &e.children);
                }
            }
            _ => {
                insert(parent, Some(&dom), std::slice::from_ref(n));
                let _ = parent.remove_child(&dom);
            }
        }
    }
    // The region is always at the end of its parent.
    for _ in new.len()..old.len() {
        if let Some(last) = parent.last_child() {
            let _ = parent.remove_child(&last);
        }
    }
}

/// Where the streaming cursor goes: inside the last block, at the end of
/// its text, descending through lists, quotes and code blocks.
fn cursor_host(root: &DomElement) -> DomElement {
    let mut host = root.clone();
    while let Some(last) = host.last_element_child() {
        match last.tag_name().as_str() {
            "P" | "LI" | "UL" | "OL" | "BLOCKQUOTE" | "PRE" | "CODE" | "H1" | "H2" | "H3"
            | "H4" | "H5" | "H6" => host = last,
            "DIV" if last.class_list().contains("md-chunk") => host = last,
            "DIV" if last.class_list().contains("code-block") => match last.last_element_child() {
                Some(pre) => host = pre,
                None => break,
            },
            _ => break,
        }
    }
    host
}

/// Finished blocks are grouped this many to a chunk: each chunk skips
/// layout and paint while off screen (`content-visibility: auto`). One
/// such box per block would cost the browser a visibility check per block
/// per frame, which grows with the reply.
const CHUNK_BLOCKS: usize = 24;

struct MdState {
    renderer: StreamRenderer,
    /// How many chunks of final blocks lead the container (the open
    /// blocks follow them).
    chunks: usize,
    /// The last chunk, while it takes more blocks, and how many it has.
    chunk: Option<DomElement>,
    chunk_len: usize,
    /// What the open blocks after the chunks show.
    open: Vec<VNode>,
    pending: bool,
    cursor: Option<DomElement>,
    owns_root: bool,
}

impl MdState {
    fn new() -> Self {
        Self {
            renderer: StreamRenderer::new(),
            chunks: 0,
            chunk: None,
            chunk_len: 0,
            open: Vec::new(),
            pending: false,
            cursor: None,
            owns_root: false,
        }
    }

    fn apply(&mut self, doc: &Document, root: &DomElement, frame: Frame) {
        if let Some(c) = &self.cursor {
            c.remove();
        }
        let Frame {
            reset,
            frozen,
            open,
        } = frame;
        if reset || !self.owns_root {
            // The framework may leave a placeholder in the empty element;
            // from here on its children are ours alone.
            root.set_text_content(None);
            self.owns_root = true;
            self.chunks = 0;
            self.chunk = None;
            self.chunk_len = 0;
            self.open.clear();
        }
        let n_frozen = frozen.len();
        let mut region = frozen;
        region.extend(open);
        // The blocks that were open keep their elements and are patched
        // (those now final then move into the chunks); new final blocks
        // are built straight into chunks; new open blocks follow.
        let kept = self.open.len().min(region.len());
        patch(root, self.chunks, &self.open, &region[..kept]);
        for _ in 0..kept.min(n_frozen) {
            self.freeze_next(doc, root);
        }
        if n_frozen > kept {
            self.append_frozen(doc, root, &region[kept..n_frozen]);
        }
        insert(root, None, &region[kept.max(n_frozen)..]);
        self.open = region.split_off(n_frozen);
    }

    /// The chunk that takes the next final block: the last one while it
    /// has room, else a new, empty one put after the others.
    fn chunk_with_room(&mut self, doc: &Document, root: &DomElement) -> Option<DomElement> {
        match &self.chunk {
            Some(c) if self.chunk_len < CHUNK_BLOCKS => Some(c.clone()),
            _ => {
                let c = doc.create_element("div").ok()?;
                let _ = c.set_attribute("class", "md-chunk");
                let after = root.child_nodes().item(self.chunks as u32);
                let _ = root.insert_before(&c, after.as_ref());
                self.chunks += 1;
                self.chunk_len = 0;
                self.chunk = Some(c.clone());
                Some(c)
            }
        }
    }

    /// Moves the first block after the chunks into the last chunk.
    fn freeze_next(&mut self, doc: &Document, root: &DomElement) {
        let Some(block) = root.child_nodes().item(self.chunks as u32) else {
            return;
        };
        if let Some(chunk) = self.chunk_with_room(doc, root) {
            let _ = chunk.append_child(&block);
            self.chunk_len += 1;
        }
    }

    /// Builds new final blocks into the chunks, as many to a chunk as fit.
    fn append_frozen(&mut self, doc: &Document, root: &DomElement, mut blocks: &[VNode]) {
        while !blocks.is_empty() {
            let Some(chunk) = self.chunk_with_room(doc, root) else {
                return;
            };
            let (now, rest) = blocks.split_at((CHUNK_BLOCKS - self.chunk_len).min(blocks.len()));
            insert(&chunk, None, now);
            self.chunk_len += now.len();
            blocks = rest;
        }
    }

    fn show_cursor(&mut self, doc: &Document, root: &DomElement, streaming: bool) {
        if !streaming {
            if let Some(c) = self.cursor.take() {
                c.remove();
            }
            return;
        }
        if self.cursor.is_none() {
            let Ok(c) = doc.create_element("span") else {
                return;
            };
            let _ = c.set_attribute("class", "cursor");
            let _ = c.set_attribute("data-testid", "cursor");
            let _ = c.set_attribute("aria-hidden", "true");
            self.cursor = Some(c);
        }
        if let Some(c) = &self.cursor {
            let _ = cursor_host(root).append_child(c);
        }
    }
}

/// What a reply's body renders from (all of it `Copy`).
#[derive(Clone, Copy)]
struct Body {
    root: NodeRef<Div>,
    state: StoredValue<MdState, LocalStorage>,
    text: RwSignal<String>,
    status: RwSignal<Status>,
}

impl Body {
    /// Renders in the next animation frame (once, however many tokens
    /// come before it).
    fn schedule(self) {
        let first = self
            .state
            .try_update_value(|s| !std::mem::replace(&mut s.pending, true))
            .unwrap_or(false);
        if first {
            request_animation_frame(move || self.flush());
        }
    }

    /// One frame's render: everything that arrived since the last one.
    fn flush(self) {
        let Some(el) = self.root.get_untracked() else {
            return;
        };
        let el: DomElement = el.unchecked_into();
        let doc = document();
        let streaming = self.status.get_untracked() == Status::Streaming;
        self.state.try_update_value(|s| {
            s.pending = false;
            let frame = self
                .text
                .with_untracked(|t| s.renderer.update(t, streaming));
            s.apply(&doc, &el, frame);
            s.show_cursor(&doc, &el, streaming);
        });
        let _ = el.set_attribute(
            "data-render",
            if streaming { "streaming" } else { "complete" },
        );
    }
}

/// A reply's body: markdown rendered from `text`, streamed while `status`
/// is `Streaming`. `data-render` is `streaming` until the final text is
/// in the DOM, then `complete`; a finished message far from view is
/// `deferred` (plain text) until it comes near.
/// What replies are made of: paragraphs, emphasis, links, lists, a quote,
/// a table, and code in the most common languages.
const WARM_UP_SAMPLE: &str =
    "# Heading\n\nA paragraph with **bold**, *emphasis*, `code`, ~~strike~~ \
and a [link](https://example.com).\n\n- one\n- two\n  1. nested\n- [x] done\n\n\
> a quote\n\n| a | b |\n|---|--:|\n| 1 | 2 |\n\n\
```rust\nfn main() { let x: u32 = 1; println!(\"{x}\"); } // note\n```\n\n\
```python\ndef f(x):\n    return [i * 2 for i in range(x)]  # note\n```\n\n\
```javascript\nconst f = (x) => x.map((i) => `${i}`); // note\n```\n\n\
```json\n{\"a\": [1, true, null, \"s\"]}\n```\n\n\
```bash\necho \"$HOME\" | grep -v x\n```\n\nThe end.\n";

/// Runs the rendering path once, streaming then final, on a sample, into
/// an element that is never attached (no layout, nothing shown). The
/// browser compiles wasm code on its first call: this way that happens
/// while the page is idle after load, not in the first reply's frames.
pub fn warm_up() {
    let Some(doc) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    let Ok(root) = doc.create_element("div") else {
        return;
    };
    let mut state = MdState::new();
    let text = WARM_UP_SAMPLE;
    for cut in [text.len() / 3, 2 * text.len() / 3, text.len()] {
        let streaming = cut < text.len();
        let Some(shown) = text.get(..cut) else {
            continue;
        };
        let frame = state.renderer.update(shown, streaming);
        state.apply(&doc, &root, frame);
        state.show_cursor(&doc, &root, streaming);
    }
}

#[component]
pub fn MarkdownBody(text: RwSignal<String>, status: RwSignal<Status>) -> impl IntoView {
    let root = NodeRef::<Div>::new();
    // Replies that stream render at once; finished ones when near view.
    let near = RwSignal::new(status.get_untracked() == Status::Streaming);
    let state = StoredValue::new_local(MdState::new());

    let body = Body {
        root,
        state,
        text,
        status,
    };

    Effect::new(move |_| {
        text.track();
        status.track();
        if !near.get() {
            let Some(el) = root.get() else { return };
            let el: DomElement = el.unchecked_into();
            if el.get_attribute("data-render").as_deref() != Some("deferred") {
                text.with_untracked(|t| el.set_text_content(Some(t)));
                let _ = el.set_attribute("data-render", "deferred");
                if !lazy::when_near(&el, move || near.set(true)) {
                    near.set(true);
                }
            }
            return;
        }
        body.schedule();
    });

    on_cleanup(move || {
        if let Some(el) = root.get_untracked() {
            lazy::forget(&el);
        }
    });

    view! { <div class="md text" data-testid="message-body" data-render="streaming" node_ref=root></div> }
}

#[cfg(test)]
mod tests {
    use super::WARM_UP_SAMPLE;
    use crate::markdown::render::render;
    use crate::markdown::vnode::to_html;

    /// The warm-up goes through every kind of block and each highlighter
    /// that replies use most.
    #[test]
    fn the_warm_up_sample_covers_the_rendering_paths() {
        let html = to_html(&render(WARM_UP_SAMPLE));
        for part in [
            "<h1",
            "<strong>",
            "<em>",
            "<del>",
            "<code>",
            "<a ",
            "<ul>",
            "<ol>",
            "<blockquote>",
            "<table>",
            "type=\"checkbox\"",
            "hl-kw",
            "hl-str",
            "hl-com",
        ] {
            assert!(html.contains(part), "no {part} in {html}");
        }
        for lang in ["rust", "python", "javascript", "json", "bash"] {
            assert!(
                html.contains(&format!("language-{lang}")),
                "no {lang} block in {html}"
            );
        }
    }
}
