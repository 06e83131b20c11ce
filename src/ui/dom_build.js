// Builds the DOM for rendered markdown from the program that
// src/markdown/ops.rs encodes, in one call per frame instead of one call
// from wasm per element, attribute and text. Elements and attributes come
// only from the closed name lists the program was encoded against; text
// is only ever a text node. Nothing is parsed as HTML.

const TEXT = 0;
const OPEN = 1;
const CLOSE = 2;

let namesKey = '';
let tags = [];
let attrs = [];

function lookup(list, index) {
  const name = list[index];
  if (name === undefined) throw new Error(`chatwire: no name ${index} in the DOM program`);
  return name;
}

/**
 * Inserts the program's top-level nodes into `parent` before `before`
 * (at the end when it is null), each built off the page first.
 */
export function buildInto(parent, before, names, codes, text) {
  if (names !== namesKey) {
    const [t, a] = names.split('|');
    tags = t.split(',');
    attrs = a.split(',');
    namesKey = names;
  }
  const doc = parent.ownerDocument;
  const ref = before || null;
  const stack = [];
  let current = null;
  let pos = 0;
  let i = 0;
  const slice = (units) => text.slice(pos, (pos += units));
  const place = (node) => {
    if (current) current.appendChild(node);
    else parent.insertBefore(node, ref);
  };
  while (i < codes.length) {
    const op = codes[i++];
    if (op === TEXT) {
      place(doc.createTextNode(slice(codes[i++])));
    } else if (op === OPEN) {
      const el = doc.createElement(lookup(tags, codes[i++]));
      for (let n = codes[i++]; n > 0; n--) {
        const name = lookup(attrs, codes[i++]);
        if (name === 'class') el.className = slice(codes[i++]);
        else el.setAttribute(name, slice(codes[i++]));
      }
      // An element holding just one non-empty text (a highlighted token,
      // inline code, a link, a cell): the text in one call. The DOM is the
      // same, one Text child.
      if (codes[i] === TEXT && codes[i + 1] > 0 && codes[i + 2] === CLOSE) {
        el.textContent = slice(codes[i + 1]);
        i += 3;
        place(el);
        continue;
      }
      stack.push(current);
      current = el;
    } else if (op === CLOSE) {
      if (!current) throw new Error('chatwire: unbalanced DOM program');
      const el = current;
      current = stack.pop();
      place(el);
    } else {
      throw new Error(`chatwire: unknown DOM program code ${op}`);
    }
  }
  if (current) throw new Error('chatwire: unclosed element in DOM program');
}
