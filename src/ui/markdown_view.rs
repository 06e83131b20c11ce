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
use crate::markdown::engine::{self, Engine, Stream};
use crate::markdown::ops::{self, Ops};
use crate::markdown::{Final, Frame, VNode};

use super::deferred::{self, LoadState};
use super::flood::FloodGate;
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
        // Shared subtrees the view already holds are equal at a glance;
        // equal nodes are passed over without a call into the page.
        let o = match old.get(i) {
            Some(o) if o == n => continue,
            o => o.map(VNode::resolved),
        };
        let Some(dom) = kids.item((offset + i) as u32) else {
            // Past the nodes there are: the rest is appended at once.
            insert(parent, None, &new[i..]);
            return;
        };
        let n = n.resolved();
        match o {
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
            // A code block's groups of lines.
            "SPAN" if last.class_list().contains("code-lines") => host = last,
            "DIV" if last.class_list().contains("code-block") => match last.last_element_child() {
                Some(pre) => host = pre,
                None => break,
            },
            _ => break,
        }
    }
    host
}

/// Finished blocks are grouped this many to a chunk (or pieces of source,
/// of one block or more, when a burst was skimmed): each chunk skips
/// layout and paint while off screen (`content-visibility: auto`). One
/// such box per block would cost the browser a visibility check per block
/// per frame, which grows with the reply.
const CHUNK_BLOCKS: usize = 24;

/// A chunk of final blocks shown as plain text until it is rendered:
/// when it comes near the viewport, or when the page is idle.
struct Deferred {
    chunk: DomElement,
    source: String,
}

struct MdState {
    /// Made when the first frame is rendered (the renderer is loaded).
    renderer: Option<Box<dyn Stream>>,
    /// How many chunks the container holds: all its children.
    chunks: usize,
    /// The last chunk, unless it is one of plain text, and how many final
    /// blocks it has: it takes the next final blocks while it has room,
    /// and holds the open blocks after its final ones.
    chunk: Option<DomElement>,
    chunk_len: usize,
    /// What the open blocks, at the end of the last chunk, show.
    open: Vec<VNode>,
    /// Chunks not rendered yet, in document order.
    deferred: Vec<Deferred>,
    /// How many of them the last [`MdState::apply`] made (at the end).
    new_deferred: usize,
    /// Deferred chunks that came near the viewport.
    wanted: Vec<DomElement>,
    /// An idle callback is due to ask for a frame that renders a few
    /// deferred chunks; `idle_due`: it did.
    idle_pending: bool,
    idle_due: bool,
    /// The text or status changed since the last frame.
    dirty: bool,
    /// A frame is asked for.
    pending: bool,
    cursor: Option<DomElement>,
    owns_root: bool,
    /// Holds frames while the text floods in.
    gate: FloodGate,
}

impl MdState {
    fn new() -> Self {
        Self {
            renderer: None,
            chunks: 0,
            chunk: None,
            chunk_len: 0,
            open: Vec::new(),
            deferred: Vec::new(),
            new_deferred: 0,
            wanted: Vec::new(),
            idle_pending: false,
            idle_due: false,
            dirty: false,
            pending: false,
            cursor: None,
            owns_root: false,
            gate: FloodGate::default(),
        }
    }

    /// The reply's next frame, or none while the renderer is not loaded.
    fn update(&mut self, text: &str, streaming: bool) -> Option<Frame> {
        if self.renderer.is_none() {
            self.renderer = Some((loaded()?.stream)());
        }
        Some(self.renderer.as_mut()?.update(text, streaming))
    }

    /// Shows `text` as it is, until the renderer is loaded. Replaces all
    /// (a frame rendered later starts afresh).
    fn show_plain(&mut self, root: &DomElement, text: &str) {
        root.set_text_content(Some(text));
        self.owns_root = false;
    }

    /// Shows `frame`, made from `text`.
    fn apply(&mut self, doc: &Document, root: &DomElement, text: &str, frame: Frame) {
        if let Some(c) = &self.cursor {
            c.remove();
        }
        self.new_deferred = 0;
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
            self.forget_deferred();
        }
        // The blocks that were open keep their elements and are patched;
        // the renderer hands them out rendered. They sit at the end of the
        // last chunk, so one that is now final stays where it is: moving
        // it into a chunk would make the browser style and lay out all of
        // it again (150-250 ms for a 2,500-line code block).
        let mut frozen = frozen.into_iter().peekable();
        let mut region = Vec::new();
        while region.len() < self.open.len() {
            match frozen.next_if(|b| matches!(b, Final::Node(_))) {
                Some(Final::Node(n)) => region.push(n),
                _ => break,
            }
        }
        let n_head = region.len();
        let all_frozen_taken = frozen.peek().is_none();
        let rest: Vec<Final> = frozen.collect();
        region.extend(open);
        let kept = if all_frozen_taken {
            self.open.len().min(region.len())
        } else {
            n_head
        };
        if let Some(host) = self.chunk.clone().filter(|_| !self.open.is_empty()) {
            patch(&host, self.chunk_len, &self.open, &region[..kept]);
            // Final now, in place (a chunk may hold a few more blocks than
            // it takes new ones).
            self.chunk_len += n_head;
        }
        // New final blocks: runs of rendered ones are built straight into
        // chunks, runs of sources become chunks of plain text.
        let mut rest = rest.into_iter().peekable();
        while rest.peek().is_some() {
            let mut nodes = Vec::new();
            while let Some(Final::Node(n)) = rest.next_if(|b| matches!(b, Final::Node(_))) {
                nodes.push(n);
            }
            self.append_frozen(doc, root, &nodes);
            let mut ranges = Vec::new();
            while let Some(Final::Source(r)) = rest.next_if(|b| matches!(b, Final::Source(_))) {
                ranges.push(r);
            }
            self.append_deferred(doc, root, text, &ranges);
        }
        // New open blocks follow, at the end of the last chunk.
        let new_open = &region[kept.max(n_head)..];
        if !new_open.is_empty() {
            if let Some(host) = self.open_host(doc, root) {
                insert(&host, None, new_open);
            }
        }
        self.open = region.split_off(n_head);
    }

    /// Puts blocks given as their source ranges in `text` into new chunks
    /// of plain text, to render later.
    fn append_deferred(
        &mut self,
        doc: &Document,
        root: &DomElement,
        text: &str,
        ranges: &[std::ops::Range<usize>],
    ) {
        for group in ranges.chunks(CHUNK_BLOCKS) {
            let (Some(first), Some(last)) = (group.first(), group.last()) else {
                continue;
            };
            let Some(source) = text.get(first.start..last.end) else {
                continue;
            };
            let Ok(c) = doc.create_element("div") else {
                return;
            };
            let _ = c.set_attribute("class", "md-chunk md-deferred");
            c.set_text_content(Some(source));
            let after = root.child_nodes().item(self.chunks as u32);
            let _ = root.insert_before(&c, after.as_ref());
            self.chunks += 1;
            // Rendered blocks that follow start a chunk of their own.
            self.chunk = None;
            self.deferred.push(Deferred {
                chunk: c,
                source: source.to_owned(),
            });
            self.new_deferred += 1;
        }
    }

    /// Renders deferred chunk `chunk`, if it still is one.
    fn format(&mut self, chunk: &DomElement) {
        if let Some(i) = self.deferred.iter().position(|d| &d.chunk == chunk) {
            let d = self.deferred.remove(i);
            Self::render_deferred(d);
        }
    }

    /// Renders the last deferred chunk (the nearest to the reply's end).
    /// False when there was none.
    fn format_last(&mut self) -> bool {
        match self.deferred.pop() {
            Some(d) => {
                Self::render_deferred(d);
                true
            }
            None => false,
        }
    }

    fn render_deferred(d: Deferred) {
        lazy::forget(&d.chunk);
        // Deferred chunks come from a renderer, so it is loaded.
        let Some(engine) = loaded() else {
            return;
        };
        let nodes = (engine.render)(&d.source);
        d.chunk.set_text_content(None);
        insert(&d.chunk, None, &nodes);
        let _ = d.chunk.class_list().remove_1("md-deferred");
    }

    fn forget_deferred(&mut self) {
        for d in self.deferred.drain(..) {
            lazy::forget(&d.chunk);
        }
        self.new_deferred = 0;
        self.wanted.clear();
    }

    /// The chunk that takes the next final block: the last one while it
    /// has room, else a new, empty one put after the others.
    fn chunk_with_room(&mut self, doc: &Document, root: &DomElement) -> Option<DomElement> {
        match &self.chunk {
            Some(c) if self.chunk_len < CHUNK_BLOCKS => Some(c.clone()),
            _ => self.new_chunk(doc, root),
        }
    }

    /// The chunk the open blocks go in: the last one, unless that is a
    /// chunk of plain text (or there is none), then a new one.
    fn open_host(&mut self, doc: &Document, root: &DomElement) -> Option<DomElement> {
        if self.chunk.is_none() {
            self.new_chunk(doc, root)?;
        }
        self.chunk.clone()
    }

    /// A new, empty chunk after the others, to take the next blocks.
    fn new_chunk(&mut self, doc: &Document, root: &DomElement) -> Option<DomElement> {
        let c = doc.create_element("div").ok()?;
        let _ = c.set_attribute("class", "md-chunk");
        let after = root.child_nodes().item(self.chunks as u32);
        let _ = root.insert_before(&c, after.as_ref());
        self.chunks += 1;
        self.chunk_len = 0;
        self.chunk = Some(c.clone());
        Some(c)
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
    /// The text or its status changed: render in the next animation frame
    /// (once, however many tokens come before it).
    fn schedule(self) {
        self.request(|s| s.dirty = true);
    }

    /// The reply ended: its final text goes into the DOM now, in the task
    /// that ended it, rather than a frame later. This reply's updates
    /// otherwise run in animation frames, each painted right after, so
    /// none happened since the last paint: this is still one DOM update
    /// per frame, and a frame already asked for finds nothing left to do.
    fn finish(self) {
        if self.root.try_get_untracked().flatten().is_none() {
            return self.schedule();
        }
        let _ = self.state.try_update_value(|s| s.dirty = true);
        self.flush();
    }

    /// Marks what the next frame has to do and asks for that frame,
    /// unless it was asked for already.
    fn request(self, mark: impl FnOnce(&mut MdState)) {
        let first = self
            .state
            .try_update_value(|s| {
                mark(s);
                !std::mem::replace(&mut s.pending, true)
            })
            .unwrap_or(false);
        if first {
            request_animation_frame(move || self.flush());
        }
    }

    /// This reply's one DOM update in a frame: everything that arrived
    /// since the last one, the deferred chunks that came near the
    /// viewport and, when the page was idle, a few more of them. While
    /// the text floods in, frames wait (see [`FloodGate`]).
    fn flush(self) {
        // A frame asked for before the message was removed (a turn
        // deleted, another conversation shown) finds its signals gone:
        // nothing to do, and no panic (a panic would kill the page).
        let (Some(Some(el)), Some(status)) = (
            self.root.try_get_untracked(),
            self.status.try_get_untracked(),
        ) else {
            return;
        };
        let el: DomElement = el.unchecked_into();
        let doc = document();
        let streaming = status == Status::Streaming;
        let now = crate::clock::monotonic_ms();
        if streaming {
            let len = self.text.try_with_untracked(String::len).unwrap_or(0);
            let held = self
                .state
                .try_update_value(|s| s.dirty && s.gate.hold(len, now))
                .unwrap_or(false);
            if held {
                // Still asked for: the next frame looks again.
                request_animation_frame(move || self.flush());
                return;
            }
        }
        let Some((rendered, new, idle)) = self.state.try_update_value(|s| {
            s.pending = false;
            let rendered = std::mem::take(&mut s.dirty).then(|| {
                self.text
                    .try_with_untracked(|t| match s.update(t, streaming) {
                        Some(frame) => {
                            s.apply(&doc, &el, t, frame);
                            true
                        }
                        None => {
                            s.show_plain(&el, t);
                            false
                        }
                    })
                    .unwrap_or(false)
            });
            let mut new = Vec::new();
            if rendered.is_some() {
                s.gate.rendered(now);
                s.show_cursor(&doc, &el, streaming);
                new = s.deferred[s.deferred.len() - s.new_deferred..]
                    .iter()
                    .map(|d| d.chunk.clone())
                    .collect();
            }
            for chunk in std::mem::take(&mut s.wanted) {
                s.format(&chunk);
            }
            if std::mem::take(&mut s.idle_due) {
                let start = crate::clock::monotonic_ms();
                while crate::clock::monotonic_ms() - start < IDLE_SLICE_MS && s.format_last() {}
            }
            let idle = !s.deferred.is_empty() && !std::mem::replace(&mut s.idle_pending, true);
            (rendered, new, idle)
        }) else {
            return;
        };
        if let Some(formatted) = rendered {
            let state = match (formatted, streaming) {
                (false, _) => "plain",
                (true, true) => "streaming",
                (true, false) => "complete",
            };
            let _ = el.set_attribute("data-render", state);
        }
        for chunk in new {
            let target = chunk.clone();
            lazy::when_near(&target, move || self.request(|s| s.wanted.push(chunk)));
        }
        if idle {
            super::idle::when_idle(move || {
                self.request(|s| {
                    s.idle_pending = false;
                    s.idle_due = true;
                })
            });
        }
    }
}

/// How long a frame after an idle period renders deferred chunks (ms).
const IDLE_SLICE_MS: f64 = 6.0;

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

/// Runs the rendering path on a sample, streaming then final, into an
/// element that is never attached (no layout, nothing shown), once per
/// idle period after load, [`WARM_UP_ROUNDS`] times. The browser compiles
/// wasm code quickly on its first call and optimizes a function only once
/// it has done enough work: this way both happen while the page is idle,
/// not in the first reply's frames.
fn warm_up() {
    warm_up_rounds(WARM_UP_ROUNDS);
}

thread_local! {
    static ENGINE: std::cell::Cell<Option<&'static Engine>> = const { std::cell::Cell::new(None) };
}

/// The renderer, if its module is loaded.
fn loaded() -> Option<&'static Engine> {
    ENGINE.with(std::cell::Cell::get)
}

/// The renderer's state, for the views (context). Replies show as plain
/// text (`data-render="plain"`), exact and complete, until it is loaded.
#[derive(Clone, Copy)]
pub struct Renderer {
    pub state: RwSignal<LoadState>,
    ready: Memo<bool>,
}

impl Renderer {
    /// Starts loading the renderer's module (once the app is mounted, so
    /// the first paint does not wait for it); once it is there, warms it
    /// up while the page is idle. A failed load is tried again (see
    /// [`deferred::load`]).
    pub fn load() -> Self {
        let state = deferred::load(engine::load, |e| {
            ENGINE.with(|c| c.set(Some(e)));
            super::idle::when_idle(warm_up);
        });
        let ready = Memo::new(move |_| state.get() == LoadState::Ready);
        Self { state, ready }
    }
}

/// The first round takes 12–34 ms (compiling), the next ~1 ms each. With
/// one round, the first 20,000-token burst on a fresh page spent 20–45 ms
/// in the renderer; with 30, 8–26 ms.
const WARM_UP_ROUNDS: u32 = 30;

fn warm_up_rounds(left: u32) {
    if left == 0 {
        return;
    }
    render_sample();
    super::idle::when_idle(move || warm_up_rounds(left - 1));
}

fn render_sample() {
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
        let Some(frame) = state.update(shown, streaming) else {
            return;
        };
        state.apply(&doc, &root, shown, frame);
        state.show_cursor(&doc, &root, streaming);
    }
    // The end of a long burst reads it whole in one call, for link
    // definitions and where blocks begin (see `StreamRenderer::skim`).
    // The browser optimizes a wasm function only after it has done
    // enough work, and a call in progress keeps the code it started
    // with: unwarmed, the first 120 KB burst spent 1.3-3.8 ms in the
    // scan, ~0.2 ms once optimized. With this, a round takes 2-11 ms
    // while compiling, then ~1 ms.
    if let Some(engine) = loaded() {
        let _ = (engine.scan)(&WARM_UP_SAMPLE.repeat(64));
    }
}

#[component]
pub fn MarkdownBody(text: RwSignal<String>, status: RwSignal<Status>) -> impl IntoView {
    let root = NodeRef::<Div>::new();
    // Replies that stream render at once; finished ones when near view.
    let near = RwSignal::new(status.get_untracked() == Status::Streaming);
    let state = StoredValue::new_local(MdState::new());
    let renderer = use_context::<Renderer>();

    let body = Body {
        root,
        state,
        text,
        status,
    };

    Effect::new(move |was_streaming: Option<bool>| {
        text.track();
        // Rendered again (formatted) when the renderer arrives. Read, not
        // only tracked: a memo that was never read has no sources yet.
        let _ = renderer.map(|r| r.ready.get());
        let streaming = status.with(|s| *s == Status::Streaming);
        if !near.get() {
            let Some(el) = root.get() else {
                return streaming;
            };
            let el: DomElement = el.unchecked_into();
            if el.get_attribute("data-render").as_deref() != Some("deferred") {
                text.with_untracked(|t| el.set_text_content(Some(t)));
                let _ = el.set_attribute("data-render", "deferred");
                if !lazy::when_near(&el, move || near.set(true)) {
                    near.set(true);
                }
            }
            return streaming;
        }
        if was_streaming == Some(true) && !streaming {
            body.finish();
        } else {
            body.schedule();
        }
        streaming
    });

    on_cleanup(move || {
        if let Some(el) = root.get_untracked() {
            lazy::forget(&el);
        }
        state.try_update_value(MdState::forget_deferred);
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
