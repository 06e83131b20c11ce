// Soak: replies streaming while the server is killed (SIGKILL) and
// restarted, or while the network is cut, cycle after cycle. Prints what
// happened to every message; "lost" and "wrong text" must be 0.
//
//   cargo xtask bench soak [--cycles 20]
//
// Even cycles kill -9 the server mid-reply and restart it (the reply cannot
// be resumed: the server's buffer died with it, so it must come back as
// interrupted, its partial text a prefix of the real reply, and Retry must
// complete it). Odd cycles cut the network for 3 s through a TCP relay
// while the server runs on (the reply must resume and end exactly as the
// server generated it). At the end the page is reloaded: every message
// must come back from the browser's storage.
const { chromium } = require('@playwright/test');
const { spawn } = require('node:child_process');
const net = require('node:net');

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const SERVER = arg('--server');
const DIST = arg('--dist');
const CYCLES = Number(arg('--cycles', '20'));
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let port = 0;
let proc = null;
async function startServer() {
  proc = spawn(SERVER, ['--engine', 'scripted', '--host', '127.0.0.1', '--port', String(port), '--dist', DIST,
    '--connect-src', 'ws://127.0.0.1:*'], { stdio: ['ignore', 'pipe', 'inherit'] });
  port = await new Promise((resolve, reject) => {
    let out = '';
    proc.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
      if (m) resolve(Number(m[1]));
    });
    proc.on('exit', (c) => reject(new Error(`server exited (${c})`)));
  });
}
async function killServer() {
  const p = proc;
  const exited = new Promise((r) => p.once('exit', r));
  p.kill('SIGKILL');
  await exited;
}

// A TCP relay that can drop every connection and refuse new ones.
let cut = false;
const sockets = new Set();
const relay = net.createServer((c) => {
  if (cut) return c.destroy();
  const u = net.connect(port, '127.0.0.1');
  for (const s of [c, u]) {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
  }
  c.pipe(u);
  u.pipe(c);
  c.on('close', () => u.destroy());
  u.on('close', () => c.destroy());
});

/** The whole reply to `prompt`, unbroken, from a bare WebSocket in the page. */
async function reference(page, prompt) {
  return page.evaluate((prompt) => new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://${location.host}/ws`);
    let text = '';
    ws.onopen = () => ws.send(JSON.stringify({ type: 'chat', id: 'ref', messages: [{ role: 'user', content: prompt }], params: {} }));
    ws.onmessage = (e) => {
      const f = JSON.parse(e.data);
      if (f.type === 'delta') text += f.text;
      if (f.type === 'end') { ws.close(); resolve(text); }
    };
    ws.onerror = () => reject(new Error('reference socket failed'));
  }), prompt);
}

async function rawText(message) {
  const button = message.getByTestId('copy-message');
  await button.click();
  await message.locator('[data-testid="copy-message"][data-state="copied"]').waitFor();
  const text = await message.page().evaluate(() => navigator.clipboard.readText());
  await message.locator('[data-testid="copy-message"]:not([data-state])').waitFor();
  return text;
}

async function main() {
  await startServer();
  await new Promise((r) => relay.listen(0, '127.0.0.1', r));
  const relayPort = relay.address().port;
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: FLAGS });
  const context = await browser.newContext({ permissions: ['clipboard-read', 'clipboard-write'] });
  const page = await context.newPage();
  page.setDefaultTimeout(60_000);
  await page.goto(`http://127.0.0.1:${port}/?backend=${encodeURIComponent(`ws://127.0.0.1:${relayPort}/ws`)}`);
  const status = page.getByTestId('connection-status');
  const open = () => page.locator('[data-testid="connection-status"][data-state="open"]').waitFor();
  await open();
  const t = { sent: 0, completed: 0, resumed: 0, interrupted: 0, retried: 0, lost: 0, wrong: 0 };
  const prompts = [];
  const started = Date.now();
  for (let i = 0; i < CYCLES; i++) {
    const prompt = `soak ${i} !tokens=300 !tps=80`;
    prompts.push(prompt);
    await page.getByTestId('composer').fill(prompt);
    await page.getByTestId('composer').press('Enter');
    t.sent += 1;
    const reply = page.locator('[data-testid="message"][data-role="assistant"]').last();
    await reply.locator('.text').filter({ hasText: 'quick' }).waitFor();
    await page.waitForTimeout(200 + Math.random() * 1000);
    const kill = i % 2 === 0;
    if (kill) {
      await killServer();
      await startServer();
    } else {
      cut = true;
      for (const s of sockets) s.destroy();
      await page.waitForTimeout(3000);
      cut = false;
    }
    await open();
    await reply.locator('xpath=self::*[@data-status="done" or @data-status="interrupted"]').waitFor();
    const ref = await reference(page, prompt);
    const final = await reply.getAttribute('data-status');
    const text = await rawText(reply);
    if (final === 'done') {
      if (kill) t.completed += 1; else t.resumed += 1;
      if (text !== ref) t.wrong += 1;
    } else {
      t.interrupted += 1;
      if (!ref.startsWith(text)) t.wrong += 1;
      await reply.getByTestId('retry-reply').click();
      await reply.locator('xpath=self::*[@data-status="done"]').waitFor();
      if ((await rawText(reply)) !== ref) t.wrong += 1;
      else t.retried += 1;
    }
    void status;
  }
  // Everything comes back from storage after a reload.
  await page.waitForTimeout(1500);
  await page.reload();
  await open();
  const users = await page.locator('[data-testid="message"][data-role="user"] .text').allTextContents();
  const assistants = page.locator('[data-testid="message"][data-role="assistant"]');
  t.lost = prompts.filter((p, i) => users[i] !== p).length + Math.max(0, users.length - prompts.length);
  const done = await page.locator('[data-testid="message"][data-role="assistant"][data-status="done"]').count();
  t.lost += prompts.length - Math.min(done, prompts.length);
  void assistants;
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`\nchatwire soak: ${CYCLES} cycles in ${secs} s (even: kill -9 + restart; odd: network cut 3 s)\n`);
  console.log('| messages sent | completed (no break seen) | resumed after a cut | interrupted by kill -9 | retried to completion | lost | wrong text (duplicated or missing tokens) |');
  console.log('|--:|--:|--:|--:|--:|--:|--:|');
  console.log(`| ${t.sent} | ${t.completed} | ${t.resumed} | ${t.interrupted} | ${t.retried} | **${t.lost}** | **${t.wrong}** |`);
  await browser.close();
  await killServer();
  relay.close();
  for (const s of sockets) s.destroy();
  if (t.lost || t.wrong) process.exitCode = 1;
}

main().catch(async (e) => {
  console.error(e);
  if (proc) proc.kill('SIGKILL');
  process.exit(1);
});
