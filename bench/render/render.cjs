// Rendering benchmark: the release build of the app against the companion
// server's scripted engine, in headless Chromium. Prints tables, asserts
// nothing. Run it with `cargo xtask bench render`.
//
// usage: node bench/render/render.cjs --url http://127.0.0.1:PORT [--reps 3] [--sizes 1000,5000,20000] [--only load,stream,blocks,history] [--block-lines 2500] [--slow-link 10,40]
'use strict';
const { chromium } = require('@playwright/test');
const http = require('node:http');

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const URL_ = arg('--url');
const REPS = Number(arg('--reps', '3'));
const SIZES = arg('--sizes', '1000,5000,20000').split(',').map(Number);
// The slower link of the first-load table: `--slow-link 10,40` (Mbit/s, RTT ms).
const SLOW = (([mbit, rttMs]) => ({ mbit, rttMs }))(arg('--slow-link', '10,40').split(',').map(Number));
if (!URL_) {
  console.error('usage: render.cjs --url http://127.0.0.1:PORT');
  process.exit(2);
}
const WS_URL = URL_.replace(/^http/, 'ws') + '/ws';

const FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--enable-precise-memory-info',
];

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN;
};
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : NaN;
};
const ms = (x) => (Number.isFinite(x) ? x.toFixed(1) : 'n/a');
const kb = (x) => (x / 1024).toFixed(1);
const mb = (x) => (x / 1024 / 1024).toFixed(1);

function table(title, head, rows) {
  const cells = [head, ...rows].map((r) => r.map(String));
  const width = head.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  const line = (r) => '| ' + r.map((c, i) => (i === 0 ? c.padEnd(width[i]) : c.padStart(width[i]))).join(' | ') + ' |';
  console.log(`\n${title}\n`);
  console.log(line(cells[0]));
  console.log('|' + width.map((w, i) => (i === 0 ? ':' : '') + '-'.repeat(w + 1) + (i === 0 ? '' : ':')).join('|').replace(/^\|:/, '|:') + '|');
  for (const r of cells.slice(1)) console.log(line(r));
}

/** Bytes of `path` over the wire with `encoding` (no decompression). */
function wireBytes(path, encoding) {
  return new Promise((resolve, reject) => {
    http
      .get(URL_ + path, { headers: { 'accept-encoding': encoding } }, (res) => {
        let n = 0;
        res.on('data', (d) => (n += d.length));
        res.on('end', () => resolve({ bytes: n, encoding: res.headers['content-encoding'] ?? 'identity', body: null }));
      })
      .on('error', reject);
  });
}

function getText(path) {
  return new Promise((resolve, reject) => {
    http.get(URL_ + path, (res) => {
      let s = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (s += d));
      res.on('end', () => resolve(s));
    }).on('error', reject);
  });
}

async function newPage(browser) {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const page = await context.newPage();
  await page.addInitScript(() => {
    const w = window;
    w.__loaf = [];
    w.__loafAt = [];
    // The app's work in each animation frame: how long each of its frame
    // callbacks runs (the benchmark's own frame counter uses the original).
    w.__rafWork = [];
    const raf = window.requestAnimationFrame.bind(window);
    w.__raf = raf;
    window.requestAnimationFrame = (cb) =>
      raf((t) => {
        const t0 = performance.now();
        try {
          cb(t);
        } finally {
          w.__rafWork.push([t0, performance.now() - t0]);
        }
      });
    // Counts the page's animation frames in w.__frames until
    // w.__counting is cleared.
    w.__countFrames = () => {
      w.__frames = 0;
      w.__counting = true;
      const tick = () => {
        if (!w.__counting) return;
        w.__frames++;
        raf(tick);
      };
      raf(tick);
    };
    // When each frame of the app's own sockets arrives, before the app
    // reads it: splits the app's time into delivery and what follows.
    w.__appFrames = [];
    const NativeSocket = window.WebSocket;
    let bare = false;
    window.WebSocket = class extends NativeSocket {
      constructor(...args) {
        super(...args);
        if (!bare) this.addEventListener('message', () => w.__appFrames.push(performance.now()));
      }
    };
    // A bare WebSocket client of the native protocol: open, hello, and
    // the server's welcome read.
    w.__bareSocket = async (wsUrl, client) => {
      bare = true;
      const ws = new WebSocket(wsUrl);
      bare = false;
      await new Promise((r, j) => ((ws.onopen = r), (ws.onerror = j)));
      const next = () => new Promise((r) => (ws.onmessage = (m) => r(JSON.parse(m.data))));
      ws.send(JSON.stringify({ type: 'hello', v: 1, client }));
      while ((await next()).type !== 'welcome');
      return ws;
    };
    addEventListener('TrunkApplicationStarted', (e) => (w.__wasm = e.detail.wasm));
    try {
      new PerformanceObserver((l) => {
        for (const e of l.getEntries()) {
          w.__loaf.push(e.duration);
          w.__loafAt.push([e.startTime, e.duration]);
        }
      }).observe({ type: 'long-animation-frame' });
    } catch {
      w.__loaf = null;
    }
    // The first frame in which the composer takes input.
    const poll = () => {
      const c = document.querySelector('[data-testid="composer"]');
      if (c && !c.disabled) w.__composerReady = performance.now();
      else requestAnimationFrame(poll);
    };
    requestAnimationFrame(poll);
    // When the socket is open, and when the markdown renderer's module
    // (fetched once the app is up) is loaded.
    const at = (selector, key) => {
      const check = () => {
        if (document.querySelector(selector)) w[key] = performance.now();
        else requestAnimationFrame(check);
      };
      requestAnimationFrame(check);
    };
    at('[data-testid="connection-status"][data-state="open"]', '__socketOpen');
    at('.app[data-renderer="ready"]', '__rendererReady');
    at('.app[data-panels="ready"]', '__panelsReady');
  });
  return { context, page };
}

async function openApp(page) {
  await page.goto(URL_ + '/');
  await page.waitForFunction(() => window.__composerReady !== undefined, null, { timeout: 30_000 });
  await page.getByTestId('max-tokens').fill('32768');
}

/** The floor: a bare WebSocket client in the page receiving the same
 * frames. With `show`, it also shows the text as it comes, as plain text
 * appended once per animation frame: the least any page that displays a
 * stream does, and so the floor for the app's long animation frames (a
 * page that never draws has none, whatever the socket does). */
async function floorRun(page, n, show = false) {
  return page.evaluate(
    async ({ n, wsUrl, show }) => {
      const ws = await window.__bareSocket(wsUrl, 'floor');
      const id = 'floor-' + Math.random();
      const out = document.createElement('pre');
      if (show) document.body.append(out);
      let queued = '';
      let drawn = 0;
      const draw = () => {
        out.append(queued);
        queued = '';
        drawn = performance.now();
      };
      // The page's own requestAnimationFrame, not the app-work timer.
      const raf = window.__raf || window.requestAnimationFrame.bind(window);
      if (window.__loaf) window.__loaf.length = 0;
      const t0 = performance.now();
      let deltas = 0;
      const done = new Promise((r) => {
        ws.onmessage = (m) => {
          const f = JSON.parse(m.data);
          if (f.type === 'delta') {
            deltas++;
            if (show) {
              if (!queued) raf(draw);
              queued += f.text;
            }
          }
          if (f.type === 'end' || f.type === 'error') r(performance.now());
        };
      });
      ws.send(JSON.stringify({ type: 'chat', id, messages: [{ role: 'user', content: `!tokens=${n} !tps=0` }], params: { max_tokens: 32768 } }));
      const t1 = await done;
      ws.close();
      // Let the last frame draw, and its long-animation-frame entries arrive.
      await new Promise((r) => setTimeout(r, 300));
      out.remove();
      const loaf = window.__loaf ? window.__loaf.filter((d) => d > 50) : null;
      return { time: t1 - t0, shown: show ? drawn - t0 : NaN, deltas, loaf };
    },
    { n, wsUrl: WS_URL, show },
  );
}

/** The app: from pressing Send until the final text is in the DOM (what is
 * in view rendered), and until every block is rendered. */
async function appRun(page, n) {
  await page.getByTestId('composer').fill(`!tokens=${n} !tps=0`);
  const out = await page.evaluate(async () => {
    const w = window;
    if (w.__loaf) w.__loaf.length = 0;
    const done = new Promise((resolve) => {
      const mo = new MutationObserver(() => {
        const m = document.querySelector('[data-testid="message"][data-role="assistant"]');
        const body = m && m.querySelector('[data-testid="message-body"]');
        if (body && body.dataset.render === 'complete' && m.dataset.status !== 'streaming') {
          mo.disconnect();
          resolve(performance.now());
        }
      });
      mo.observe(document.body, { subtree: true, attributes: true, attributeFilter: ['data-render', 'data-status'] });
    });
    w.__appFrames.length = 0;
    const t0 = performance.now();
    document.querySelector('[data-testid="send"]').click();
    const t1 = await done;
    const received = w.__appFrames.length ? w.__appFrames[w.__appFrames.length - 1] : NaN;
    const body = document.querySelector('[data-role="assistant"] [data-testid="message-body"]');
    // Blocks out of sight may come as plain text, rendered when the page
    // is idle: until none is left.
    const t2 = await new Promise((resolve) => {
      const check = () => {
        if (body.querySelector('.md-deferred')) return false;
        resolve(performance.now());
        return true;
      };
      if (check()) return;
      const mo = new MutationObserver(() => check() && mo.disconnect());
      mo.observe(body, { subtree: true, attributes: true, attributeFilter: ['class'], childList: true });
    });
    // Let long-animation-frame entries of the last frames arrive.
    await new Promise((r) => setTimeout(r, 300));
    return {
      time: t1 - t0,
      received: received - t0,
      frames: w.__appFrames.length,
      formatted: t2 - t0,
      loaf: w.__loaf ? w.__loaf.filter((d) => d > 50) : null,
      heap: performance.memory ? performance.memory.usedJSHeapSize : NaN,
      wasm: w.__wasm ? w.__wasm.memory.buffer.byteLength : NaN,
      chars: body.textContent.length,
      nodes: body.getElementsByTagName('*').length,
    };
  });
  return out;
}

async function streamBench(browser) {
  const rows = [];
  for (const n of SIZES) {
    const floors = [];
    const shows = [];
    const apps = [];
    for (let r = 0; r < REPS; r++) {
      const { context, page } = await newPage(browser);
      await openApp(page);
      floors.push(await floorRun(page, n));
      shows.push(await floorRun(page, n, true));
      apps.push(await appRun(page, n));
      await context.close();
    }
    const floor = median(floors.map((f) => f.time));
    const app = median(apps.map((a) => a.time));
    // The same page's app and floor runs, one after the other: their
    // ratio, page by page, is steadier than the ratio of the medians when
    // the host drifts between pages.
    const paired = median(apps.map((a, i) => a.time / floors[i].time));
    const formatted = median(apps.map((a) => a.formatted));
    const last = apps[apps.length - 1];
    const loafCounts = apps.map((a) => (a.loaf ? a.loaf.length : NaN));
    const loafTotals = apps.map((a) => (a.loaf ? a.loaf.reduce((x, y) => x + y, 0) : NaN));
    // The same page receiving the same frames with a bare client that
    // shows them as plain text.
    const showLoafCounts = shows.map((f) => (f.loaf ? f.loaf.length : NaN));
    const showLoafTotals = shows.map((f) => (f.loaf ? f.loaf.reduce((x, y) => x + y, 0) : NaN));
    rows.push([
      n.toLocaleString('en-US'),
      ms(app),
      ms(floor),
      (app / floor).toFixed(2),
      paired.toFixed(2),
      ms(median(apps.map((a) => a.received))),
      ms(formatted),
      ms(median(shows.map((f) => f.shown))),
      `${Math.max(...loafCounts)}`,
      `${Math.max(...showLoafCounts)}`,
      ms(Math.max(...loafTotals)),
      ms(Math.max(...showLoafTotals)),
      mb(last.heap),
      mb(last.wasm),
      last.nodes.toLocaleString('en-US'),
    ]);
  }
  table(
    `Stream rendering (scripted engine, tokens as fast as possible; median of ${REPS}; long frames: worst run)`,
    ['tokens', 'app: send → final text in the DOM (ms)', 'floor: bare WebSocket (ms)', 'ratio', 'ratio page by page (median)', 'app: last frame received (ms)', 'app: every block rendered (ms)', 'floor: bare client showing plain text (ms)', 'long frames >50 ms', 'floor: its long frames', 'long-frame total (ms)', 'floor: its total (ms)', 'JS heap (MB)', 'wasm memory (MB)', 'DOM elements'],
    rows,
  );
}

/** One block of `lines` lines of the given kind: what a reply that is
 * mostly one long code block, list, table or quote looks like. */
function longBlock(kind, lines) {
  const rows = Array.from({ length: lines }, (_, i) => {
    switch (kind) {
      case 'code block': return `def f${i}(x): return x * ${i} + "s"  # comment ${i}`;
      case 'list': return `- item ${i} with **bold** text and \`code\``;
      case 'table': return `| ${i} | **x${i}** | \`y${i}\` |`;
      default: return `> quoted line ${i} with *emphasis*`;
    }
  });
  if (kind === 'code block') return ['```python', ...rows, '```'].join('\n');
  if (kind === 'table') return ['| n | x | y |', '|---|---|---|', ...rows].join('\n');
  return rows.join('\n');
}

/** A reply that is one long block, streamed at a set rate: the page's
 * frames while it grows. */
async function blockRun(page, body, chunk, tps) {
  await page.evaluate((text) => {
    const c = document.querySelector('[data-testid="composer"]');
    c.value = text;
    c.dispatchEvent(new Event('input', { bubbles: true }));
  }, `!echo !chunk=${chunk} !tps=${tps}\n${body}`);
  await page.getByTestId('send').click();
  const started = await page.evaluate(() => {
    window.__countFrames();
    return performance.now();
  });
  const reply = page.locator('[data-testid="message"][data-role="assistant"]').last();
  await reply.and(page.locator('[data-status="done"]')).waitFor({ timeout: 300_000 });
  return page.evaluate(async (started) => {
    const w = window;
    const time = performance.now() - started;
    w.__counting = false;
    await new Promise((r) => setTimeout(r, 300));
    // Frames that began after the send (the send's own frame, which
    // renders the long prompt, is not the stream's).
    const loaf = w.__loaf ? w.__loafAt.filter(([at, d]) => at >= started && d > 50).map(([, d]) => d) : null;
    // The app's work in the last tenth of its frames, when the block is
    // longest.
    const work = w.__rafWork.filter(([at]) => at >= started).map(([, d]) => d);
    const late = work.slice(Math.floor(work.length * 0.9));
    return { time, frames: w.__frames, loaf, late };
  }, started);
}

/** The same stream received by a bare WebSocket client in the page,
 * which appends the complete new lines once per animation frame as plain
 * DOM in the block's shape, the simplest way (an element per list item or
 * table row, a text node per frame for code and quotes), no markdown:
 * what the browser costs for that much of that block, as a reference
 * beside the app. */
async function bareBlockRun(page, kind, body, chunk, tps) {
  return page.evaluate(
    async ({ kind, body, chunk, tps, wsUrl }) => {
      const w = window;
      const ws = await w.__bareSocket(wsUrl, 'bare-block');
      const host = document.createElement('div');
      host.style.cssText = 'position:fixed;inset:0;overflow:auto;background:#fff;z-index:9';
      document.body.append(host);
      const el = (tag, parent) => parent.appendChild(document.createElement(tag));
      let into;
      if (kind === 'code block') into = el('code', el('pre', host));
      else if (kind === 'list') into = el('ul', host);
      else if (kind === 'table') into = el('tbody', el('table', host));
      else into = el('p', el('blockquote', host));
      let text = '';
      let shown = 0;
      let queued = false;
      const draw = () => {
        queued = false;
        const end = text.lastIndexOf('\n') + 1;
        const lines = text.slice(shown, end);
        shown = end;
        if (kind === 'list' || kind === 'table') {
          for (const line of lines.split('\n')) {
            if (kind === 'list' && line.startsWith('- ')) el('li', into).textContent = line.slice(2);
            if (kind === 'table' && line.startsWith('| ') && !line.startsWith('|---')) {
              const tr = el('tr', into);
              for (const cell of line.split('|').slice(1, -1)) el('td', tr).textContent = cell.trim();
            }
          }
        } else {
          into.append(lines.replace(/^> /gm, ''));
        }
        host.scrollTop = host.scrollHeight;
      };
      w.__countFrames();
      const started = performance.now();
      const done = new Promise((r) => {
        ws.onmessage = (m) => {
          const f = JSON.parse(m.data);
          if (f.type === 'delta') {
            text += f.text;
            if (!queued) {
              queued = true;
              w.__raf(draw);
            }
          }
          if (f.type === 'end' || f.type === 'error') r(performance.now());
        };
      });
      ws.send(JSON.stringify({ type: 'chat', id: 'bare-' + Math.random(), messages: [{ role: 'user', content: `!echo !chunk=${chunk} !tps=${tps}\n${body}` }], params: { max_tokens: 32768 } }));
      const time = (await done) - started;
      w.__counting = false;
      ws.close();
      await new Promise((r) => setTimeout(r, 300));
      host.remove();
      const loaf = w.__loaf ? w.__loafAt.filter(([at, d]) => at >= started && d > 50).map(([, d]) => d) : null;
      return { time, frames: w.__frames, loaf };
    },
    { kind, body, chunk, tps, wsUrl: WS_URL },
  );
}

async function blocksBench(browser) {
  const LINES = Number(arg('--block-lines', '2500'));
  const CHUNK = 12;
  const TPS = 2000;
  const rows = [];
  for (const kind of ['code block', 'list', 'table', 'quote']) {
    const body = longBlock(kind, LINES);
    const runs = [];
    const bare = [];
    for (let r = 0; r < REPS; r++) {
      const { context, page } = await newPage(browser);
      await openApp(page);
      bare.push(await bareBlockRun(page, kind, body, CHUNK, TPS));
      runs.push(await blockRun(page, body, CHUNK, TPS));
      await context.close();
    }
    const bareFps = median(bare.map((x) => (x.frames / x.time) * 1000));
    const bareLoaf = bare.map((x) => (x.loaf ? x.loaf.length : NaN));
    // The server paces the tokens: the stream cannot end sooner, and
    // the page cannot paint more than 60 frames a second meanwhile.
    const paced = (Math.ceil(body.length / CHUNK) / TPS) * 1000;
    const time = median(runs.map((x) => x.time));
    const fps = median(runs.map((x) => (x.frames / x.time) * 1000));
    const loafCounts = runs.map((x) => (x.loaf ? x.loaf.length : NaN));
    const loafMax = runs.map((x) => (x.loaf && x.loaf.length ? Math.max(...x.loaf) : 0));
    const late = runs.flatMap((x) => x.late);
    rows.push([
      kind,
      kb(body.length),
      ms(time),
      ms(paced),
      fps.toFixed(0),
      '60',
      bareFps.toFixed(0),
      ms(median(late)),
      ms(pct(late, 0.95)),
      `${Math.max(...loafCounts)}`,
      `${Math.max(...bareLoaf)}`,
      ms(Math.max(...loafMax)),
    ]);
  }
  table(
    `A reply that is one long block of ${LINES.toLocaleString('en-US')} lines, streamed at ${CHUNK * TPS / 1000} KB/s (${CHUNK}-character tokens; median of ${REPS}; long frames: worst run)`,
    ['block', 'size (KB)', 'send → done (ms)', 'floor: server pacing (ms)', 'frames/s while streaming', 'floor: display', 'bare page: frames/s', 'app work per frame, last 10% of frames (ms)', 'p95', 'long frames >50 ms', 'bare page: long frames', 'longest frame (ms)'],
    rows,
  );
}

async function loadBench(browser) {
  const html = await getText('/');
  const refs = new Set();
  // Links are relative to the page (served at the root here).
  for (const m of html.matchAll(/(?:href|src)="(\.?\/[^"]+)"/g)) refs.add(m[1].replace(/^\.\//, '/'));
  // What the page needs before it runs: its links, what the boot script
  // names, and the modules the JS imports. The split modules (the
  // markdown renderer, the side panels, and the dialects other than
  // native, which a native page never fetches) come later: listed apart.
  const later = new Set();
  const seen = new Set();
  const scan = async (f) => {
    if (seen.has(f) || !f.endsWith('.js')) return;
    seen.add(f);
    const js = await getText(f);
    const dir = f.slice(0, f.lastIndexOf('/') + 1);
    for (const m of js.matchAll(/'(\/[^']+)'/g)) refs.add(m[1]);
    for (const m of js.matchAll(/from\s*["'](\.\/[^"']+)["']/g)) refs.add(dir + m[1].slice(2));
    // The boot script names the main module; the split loader, the
    // modules it fetches on demand.
    const named = f.includes('/boot-') ? refs : later;
    for (const m of js.matchAll(/new URL\(["'](\.\/[^"']+\.wasm)["']/g)) named.add(dir + m[1].slice(2));
  };
  for (let grew = true; grew; ) {
    const before = refs.size;
    for (const f of [...refs]) await scan(f);
    grew = refs.size > before;
  }
  const files = ['/', ...[...refs].sort()];
  const rows = [];
  // Adds a row per file; returns the totals.
  const sizes = async (list) => {
    let gzTotal = 0;
    let brTotal = 0;
    let rawTotal = 0;
    for (const f of list) {
      const gz = await wireBytes(f, 'gzip');
      const br = await wireBytes(f, 'br');
      const raw = await wireBytes(f, 'identity');
      gzTotal += gz.bytes;
      brTotal += br.bytes;
      rawTotal += raw.bytes;
      rows.push([f === '/' ? 'index.html' : f.slice(1), raw.bytes.toLocaleString('en-US'), gz.bytes.toLocaleString('en-US'), br.bytes.toLocaleString('en-US')]);
    }
    return [rawTotal, gzTotal, brTotal].map((n) => n.toLocaleString('en-US'));
  };
  rows.push(['total before the app runs', ...(await sizes(files))]);
  if (later.size) {
    rows.push(['total of the split modules (fetched once the app is up; split_dialects only for the other dialects)', ...(await sizes([...later].sort()))]);
  }
  table('First load: bytes over the wire (budget: 250 KB = 256,000 B gzip, before the app runs)', ['file', 'raw', 'gzip', 'brotli'], rows);

  const ready = [];
  const open = [];
  const renderer = [];
  const panels = [];
  const floor = [];
  for (let r = 0; r < 5; r++) {
    const { context, page } = await newPage(browser);
    await openApp(page);
    ready.push(await page.evaluate(() => window.__composerReady));
    await page.waitForFunction(() => window.__socketOpen !== undefined, null, { timeout: 30_000 });
    open.push(await page.evaluate(() => window.__socketOpen));
    // (A build from before the split has no such attribute.)
    if (await page.locator('.app[data-renderer]').count()) {
      await page.waitForFunction(() => window.__rendererReady !== undefined, null, { timeout: 30_000 });
      renderer.push(await page.evaluate(() => window.__rendererReady));
    }
    if (await page.locator('.app[data-panels]').count()) {
      await page.waitForFunction(() => window.__panelsReady !== undefined, null, { timeout: 30_000 });
      panels.push(await page.evaluate(() => window.__panelsReady));
    }
    await context.close();
    // The floor: a page that fetches the same files, compiles the wasm and
    // opens the socket, with no framework and nothing rendered.
    const c2 = await browser.newContext();
    const p2 = await c2.newPage();
    await p2.goto(URL_ + '/healthz');
    floor.push(
      await p2.evaluate(
        async ({ files, wsUrl }) => {
          const t0 = performance.now();
          const bodies = await Promise.all(files.map((f) => fetch(f, { cache: 'no-store' }).then((r) => r.arrayBuffer().then((b) => [f, b]))));
          const wasm = bodies.find(([f]) => f.endsWith('.wasm'));
          if (wasm) await WebAssembly.compile(wasm[1]);
          const ws = new WebSocket(wsUrl);
          await new Promise((r) => (ws.onopen = r));
          ws.close();
          return performance.now() - t0 + performance.getEntriesByType('navigation')[0].responseEnd;
        },
        { files, wsUrl: WS_URL },
      ),
    );
    await c2.close();
  }
  // The same on a slower link (Chrome's network emulation): what the bytes
  // before the app runs cost where the network, not localhost, is the limit.
  const slow = { ready: [], renderer: [], panels: [], bytes: [] };
  for (let r = 0; r < 5; r++) {
    const { context, page } = await newPage(browser);
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: SLOW.rttMs,
      downloadThroughput: (SLOW.mbit * 1e6) / 8,
      uploadThroughput: (SLOW.mbit * 1e6) / 8,
    });
    await openApp(page);
    const t = await page.evaluate(() => window.__composerReady);
    slow.ready.push(t);
    // What went over the wire (encoded) before the composer took input.
    slow.bytes.push(
      await page.evaluate((t) => {
        const nav = performance.getEntriesByType('navigation')[0];
        const res = performance.getEntriesByType('resource').filter((e) => e.responseEnd <= t);
        return nav.transferSize + res.reduce((n, e) => n + e.transferSize, 0);
      }, t),
    );
    if (await page.locator('.app[data-renderer]').count()) {
      await page.waitForFunction(() => window.__rendererReady !== undefined, null, { timeout: 60_000 });
      slow.renderer.push(await page.evaluate(() => window.__rendererReady));
    }
    if (await page.locator('.app[data-panels]').count()) {
      await page.waitForFunction(() => window.__panelsReady !== undefined, null, { timeout: 60_000 });
      slow.panels.push(await page.evaluate(() => window.__panelsReady));
    }
    await context.close();
  }
  const link = `${SLOW.mbit} Mbit/s, ${SLOW.rttMs} ms RTT`;
  table('First load: navigation → composer accepts input (cold cache, median of 5)', ['what', 'ms'], [
    ['app', ms(median(ready))],
    ['floor: fetch the same files + compile wasm + open socket', ms(median(floor))],
    ['app: socket open', ms(median(open))],
    ...(renderer.length ? [['app: markdown renderer loaded (its module fetched once the app is up)', ms(median(renderer))]] : []),
    ...(panels.length ? [['app: side panels loaded (their module fetched once the app is up)', ms(median(panels))]] : []),
    [`app on a ${link} link`, ms(median(slow.ready))],
    [`  bytes received before the composer takes input (B)`, Math.round(median(slow.bytes)).toLocaleString('en-US')],
    ...(slow.renderer.length ? [[`  markdown renderer loaded, same link`, ms(median(slow.renderer))]] : []),
    ...(slow.panels.length ? [[`  side panels loaded, same link`, ms(median(slow.panels))]] : []),
  ]);
}

/** About 2 MB of markdown in 1,000 messages. */
function conversation() {
  const messages = [];
  for (let i = 0; i < 500; i++) {
    messages.push({ role: 'user', content: `Question ${i}: how would you structure module ${i} of the service, and why?` });
    const parts = [`## Answer ${i}`, ''];
    while (parts.join('\n').length < 3900) {
      parts.push(
        `The **${i}th** design keeps *state* in plain types and uses \`signals\` per item; see [the docs](https://example.com/${i}).`,
        '',
        '- parse the frame and validate it',
        '- apply it to the conversation state',
        '- render only what changed',
        '',
        '```rust',
        `fn handle_${i}(frame: &str) -> Result<Event, Error> {`,
        '    let event = decode(frame)?; // never panics',
        '    Ok(event)',
        '}',
        '```',
        '',
      );
    }
    messages.push({ role: 'assistant', content: parts.join('\n') });
  }
  return { format: 'chatwire.conversation', version: 1, messages };
}

async function historyBench(browser) {
  const conv = conversation();
  const json = JSON.stringify(conv);
  const mdBytes = conv.messages.reduce((n, m) => n + Buffer.byteLength(m.content), 0);
  const { context, page } = await newPage(browser);
  await openApp(page);
  await page.evaluate(() => {
    const w = window;
    document.addEventListener('change', () => (w.__importStart = performance.now()), true);
    // Loaded = the last message and every message in the transcript's
    // viewport are rendered (the rest render as they come near).
    w.__imported = new Promise((resolve) => {
      const check = () => {
        const t = document.querySelector('[data-testid="transcript"]');
        const bodies = document.querySelectorAll('[data-role="assistant"] [data-testid="message-body"]');
        // The imported conversation's last reply (not the page's earlier state).
        const last = bodies[bodies.length - 1];
        if (!last || last.dataset.render !== 'complete' || !last.textContent.includes('Answer 499')) return false;
        const view = t.getBoundingClientRect();
        const visible = [...bodies].slice(-20).filter((b) => {
          const r = b.getBoundingClientRect();
          return r.bottom > view.top && r.top < view.bottom;
        });
        return bodies[bodies.length - 1].dataset.render === 'complete' && visible.every((b) => b.dataset.render === 'complete');
      };
      // Checked when a body's state changes and, once the last reply is
      // rendered, every frame: which bodies are in view can change with
      // no state change (the transcript following to the bottom).
      let done = false;
      let polling = false;
      const attempt = () => {
        if (done || !check()) return done;
        done = true;
        mo.disconnect();
        requestAnimationFrame(() => setTimeout(() => resolve(performance.now())));
        return true;
      };
      const poll = () => attempt() || requestAnimationFrame(poll);
      const mo = new MutationObserver(() => {
        const bodies = document.querySelectorAll('[data-role="assistant"] [data-testid="message-body"]');
        const last = bodies[bodies.length - 1];
        if (!attempt() && !polling && last && last.dataset.render === 'complete') {
          polling = true;
          requestAnimationFrame(poll);
        }
      });
      mo.observe(document.body, { subtree: true, attributes: true, attributeFilter: ['data-render'] });
    });
  });
  await page.getByTestId('import-input').setInputFiles({ name: 'conv.json', mimeType: 'application/json', buffer: Buffer.from(json) });
  const loadTime = await page.evaluate(async () => (await window.__imported) - window.__importStart);
  // Messages far above are built after that, while the page is idle.
  const allTime = await page.evaluate(async (n) => {
    while (document.querySelectorAll('[data-testid="message"]').length < n) await new Promise((r) => setTimeout(r, 5));
    return performance.now() - window.__importStart;
  }, conv.messages.length);
  const count = await page.getByTestId('message').count();
  const rendered = await page.evaluate(() => document.querySelectorAll('[data-testid="message-body"][data-render="complete"]').length);

  const keys = await keystrokes(page, '[data-testid="composer"]');
  const memory = await page.evaluate(() => ({
    heap: performance.memory ? performance.memory.usedJSHeapSize : NaN,
    wasm: window.__wasm ? window.__wasm.memory.buffer.byteLength : NaN,
  }));
  await context.close();

  // Floors: the same text as plain pre-wrap divs in a bare page, and a
  // bare textarea beside them.
  const c2 = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const p2 = await c2.newPage();
  await p2.goto(URL_ + '/healthz');
  const plain = await p2.evaluate(async (json) => {
    const t0 = performance.now();
    const conv = JSON.parse(json);
    document.body.textContent = '';
    const list = document.createElement('div');
    list.style.cssText = 'height:700px;overflow:auto;white-space:pre-wrap';
    for (const m of conv.messages) {
      const d = document.createElement('div');
      d.textContent = m.content;
      list.appendChild(d);
    }
    const ta = document.createElement('textarea');
    ta.id = 'bare';
    document.body.append(list, ta);
    list.scrollTop = list.scrollHeight;
    await new Promise((r) => requestAnimationFrame(() => setTimeout(r)));
    return performance.now() - t0;
  }, json);
  const bareKeys = await keystrokes(p2, '#bare');
  await c2.close();
  // The browser's own input → paint pipeline: a textarea alone on a page.
  const c3 = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const p3 = await c3.newPage();
  await p3.goto(URL_ + '/healthz');
  await p3.evaluate(() => {
    document.body.innerHTML = '<textarea id="alone"></textarea>';
  });
  const aloneKeys = await keystrokes(p3, '#alone');
  await c3.close();

  table(`Conversation of ${count.toLocaleString('en-US')} messages (${mb(mdBytes)} MB of markdown, loaded through the app's import)`, ['what', 'app', 'floor', 'floor: a textarea alone'], [
    ['render on load: last message and the screen rendered (ms)', ms(loadTime), `${ms(plain)} (all text as plain divs in a bare page)`, ''],
    ['every message in the DOM (the ones far above built while idle) (ms)', ms(allTime), '', ''],
    ['messages rendered as markdown at that point', String(rendered), '', ''],
    ['keystroke → next paint (Event Timing), keystrokes ≥ 16 ms', `${over16(keys.event)} of 40`, `${over16(bareKeys.event)} of 40`, `${over16(aloneKeys.event)} of 40`],
    ['keystroke → next paint (Event Timing), median (ms)', evMs(median(keys.event)), evMs(median(bareKeys.event)), evMs(median(aloneKeys.event))],
    ['keystroke → next paint (Event Timing), max (ms)', evMs(Math.max(...keys.event)), evMs(Math.max(...bareKeys.event)), evMs(Math.max(...aloneKeys.event))],
    ['keystroke → frame + task (frame aligned), median (ms)', ms(median(keys.frame)), ms(median(bareKeys.frame)), ms(median(aloneKeys.frame))],
    ['keystroke → frame + task (frame aligned), p95 (ms)', ms(pct(keys.frame, 0.95)), ms(pct(bareKeys.frame, 0.95)), ms(pct(aloneKeys.frame, 0.95))],
    ['keystroke → frame + task (frame aligned), max (ms)', ms(Math.max(...keys.frame)), ms(Math.max(...bareKeys.frame)), ms(Math.max(...aloneKeys.frame))],
    ['JS heap after (MB)', mb(memory.heap), '', ''],
    ['wasm memory after (MB)', mb(memory.wasm), '', ''],
  ]);
}

const over16 = (xs) => xs.filter((x) => x >= 16).length;
const evMs = (x) => (x < 16 ? '< 16' : ms(x));

/**
 * 40 keystrokes, two ways:
 * - `frame`: key down → a task after the next animation frame (includes
 *   waiting for the frame: frame aligned, so even a bare page is above
 *   16 ms by this method);
 * - `event`: the browser's own Event Timing (what INP is built on): from
 *   the key's hardware timestamp until the next frame is presented, per
 *   keystroke the longest of its events. The browser reports only events
 *   of 16 ms and more (rounded to 8 ms); a keystroke with none reported
 *   counts as under 16 ms.
 */
async function keystrokes(page, selector) {
  await page.focus(selector);
  await page.evaluate(() => {
    const w = window;
    w.__lat = [];
    w.__events = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        if (['keydown', 'keypress', 'keyup', 'beforeinput', 'input'].includes(e.name)) w.__events.push({ start: e.startTime, duration: e.duration });
      }
    }).observe({ type: 'event', durationThreshold: 16, buffered: false });
    document.addEventListener(
      'keydown',
      (e) => {
        const t = e.timeStamp;
        w.__keys = (w.__keys || []).concat(t);
        requestAnimationFrame(() => setTimeout(() => w.__lat.push(performance.now() - t)));
      },
      true,
    );
  });
  for (let i = 0; i < 40; i++) {
    await page.keyboard.press(String.fromCharCode(97 + (i % 26)));
    await page.waitForFunction((n) => window.__lat.length >= n, i + 1);
  }
  // Let the observer deliver the last entries (it batches them).
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 100))));
  return page.evaluate(() => {
    const keys = window.__keys;
    // Each reported event belongs to the keystroke whose key down came last before it.
    const worst = keys.map(() => 0);
    for (const e of window.__events) {
      let k = -1;
      keys.forEach((t, i) => {
        if (t <= e.start + 1) k = i;
      });
      if (k >= 0) worst[k] = Math.max(worst[k], e.duration);
    }
    return { frame: window.__lat, event: worst, reported: window.__events.length };
  });
}

(async () => {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: FLAGS });
  try {
    console.log(`chatwire rendering benchmark against ${URL_} (Chromium ${browser.version()}, ${require('node:os').cpus().length} CPUs)`);
    const only = arg('--only', 'load,stream,blocks,history').split(',');
    if (only.includes('load')) await loadBench(browser);
    if (only.includes('stream')) await streamBench(browser);
    if (only.includes('blocks')) await blocksBench(browser);
    if (only.includes('history')) await historyBench(browser);
  } finally {
    await browser.close();
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
