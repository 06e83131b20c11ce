// The vertical slice in real Chromium against a real chatwire-server
// (scripted engine). The scripted engine obeys directives in the prompt:
// !tokens=N, !tps=F, !delay_ms=N, !error=K (see server/src/engine/scripted.rs).
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { AddressInfo } from 'node:net';
import { test, expect, rawText, noteAtSend, refuseUntilReleased } from '../support/fixtures';
import { Server, DIST } from '../support/server';

test('a reply streams with a blinking cursor and completes with the full text', async ({ chat, server }) => {
  await chat.open();
  await chat.say('Tell me a story !tokens=40 !tps=20');

  await expect(chat.user.locator('.text')).toHaveText('Tell me a story !tokens=40 !tps=20');
  const reply = chat.assistant.last();
  await expect(reply).toHaveAttribute('data-status', 'streaming');
  await expect(reply.getByTestId('cursor')).toBeVisible();
  // The cursor blinks by a CSS animation.
  const animation = await reply.getByTestId('cursor').evaluate((el) => getComputedStyle(el).animationName);
  expect(animation).not.toBe('none');
  await expect(chat.stop).toBeEnabled();

  await expect(reply).toHaveAttribute('data-status', 'done');
  await expect(reply.getByTestId('cursor')).toHaveCount(0);
  const record = await server.lastReply();
  expect(record?.tokens_sent).toBe(40);
  expect(record?.finish_reason).toBe('stop');
  // Exactly what the server sent, whitespace included.
  expect(await rawText(reply)).toBe(record!.text);
  await expect(chat.stop).toBeDisabled();
  await expect(chat.composer).toHaveValue('');
});

test('a request leaves before the page changes: a new message, Regenerate, Edit', async ({ chat, page }) => {
  // Sending first is worth about a millisecond of every reply: the view's
  // updates run after the request is handed to the socket, not before.
  // What the page shows at that moment tells: how many messages, and the
  // last reply's status.
  const atSend = await noteAtSend(page);
  await chat.open();
  await chat.say('one !tokens=3 !tps=0');
  await expect(chat.assistant.last()).toHaveAttribute('data-status', 'done');
  await chat.say('two !tokens=3 !tps=0');
  await expect(chat.assistant.last()).toHaveAttribute('data-status', 'done');
  // The turn is all there once drawn, the composer cleared.
  await expect(chat.user).toHaveCount(2);
  await expect(chat.composer).toHaveValue('');
  await chat.messages.last().hover();
  await page.getByTestId('regenerate-reply').click();
  await expect(chat.assistant.last()).toHaveAttribute('data-status', 'done');
  const first = chat.user.first();
  await first.hover();
  await first.getByTestId('edit-message').click();
  await first.getByTestId('edit-input').fill('one, edited !tokens=3 !tps=0');
  await first.getByTestId('edit-input').press('Enter');
  await expect(chat.messages).toHaveCount(2);
  await expect(chat.assistant.last()).toHaveAttribute('data-status', 'done');
  // No message, then the first turn; Regenerate with the old reply still
  // shown as done, and Edit with the turns after the message still there.
  expect(await atSend()).toEqual(['0 -', '2 done', '4 done', '4 done']);
});

test('no cursor animation under prefers-reduced-motion', async ({ chat, page }) => {
  await page.emulateMedia({ reducedMotion: 'reduce' });
  await chat.open();
  await chat.say('!tokens=200 !tps=20');
  const cursor = chat.assistant.last().getByTestId('cursor');
  await expect(cursor).toBeVisible();
  expect(await cursor.evaluate((el) => getComputedStyle(el).animationName)).toBe('none');
});

test('Enter sends, Shift+Enter is a newline, earlier turns go along as history', async ({ chat, server }) => {
  await chat.open();
  await chat.composer.fill('first line');
  await chat.composer.press('Shift+Enter');
  await chat.composer.pressSequentially('second line !tokens=3 !tps=0');
  await expect(chat.composer).toHaveValue('first line\nsecond line !tokens=3 !tps=0');
  await chat.composer.press('Enter');
  await expect(chat.assistant.last()).toHaveAttribute('data-status', 'done');
  await chat.say('and again !tokens=2 !tps=0');
  await expect(chat.assistant).toHaveCount(2);
  await expect(chat.assistant.last()).toHaveAttribute('data-status', 'done');

  const last = await server.lastReply();
  const first = (await server.replies())[0];
  expect(last!.request.messages).toEqual([
    { role: 'user', content: 'first line\nsecond line !tokens=3 !tps=0' },
    { role: 'assistant', content: first.text },
    { role: 'user', content: 'and again !tokens=2 !tps=0' },
  ]);
});

test('Stop mid-reply keeps the text, marks it stopped, and the server stops generating', async ({ chat, server }) => {
  await chat.open();
  await chat.say('long one !tokens=100000 !tps=30');
  const reply = chat.assistant.last();
  const text = reply.locator('.text');
  await expect(text).toContainText('fox');
  await chat.stop.click();
  await expect(reply).toHaveAttribute('data-status', 'stopped');
  await expect(reply.getByTestId('cursor')).toHaveCount(0);
  // The final text is in the DOM one frame after the stop.
  await expect(text).toHaveAttribute('data-render', 'complete');
  const atStop = await text.textContent();
  expect(atStop!.length).toBeGreaterThan(0);

  // The server acknowledged and its generation loop ended.
  await expect.poll(async () => (await server.lastReply())?.finish_reason).toBe('cancelled');
  const record = await server.lastReply();
  expect(record!.tokens_sent).toBeLessThan(100000);
  // Nothing arrived after Stop, and the text is what the server sent up to then.
  expect(await text.textContent()).toBe(atStop);
  const kept = await rawText(reply);
  expect(kept.length).toBeGreaterThan(0);
  expect(record!.text.startsWith(kept)).toBe(true);

  // The app is ready for the next turn.
  await chat.say('next !tokens=3 !tps=0');
  await expect(chat.assistant.last()).toHaveAttribute('data-status', 'done');
});

test('Stop works before the first token', async ({ chat, server }) => {
  await chat.open();
  await chat.say('slow start !delay_ms=20000');
  const reply = chat.assistant.last();
  await expect(reply).toHaveAttribute('data-status', 'streaming');
  await chat.stop.click();
  await expect(reply).toHaveAttribute('data-status', 'stopped');
  await expect.poll(async () => (await server.lastReply())?.finish_reason).toBe('cancelled');
  expect((await server.lastReply())!.tokens_sent).toBe(0);
  await expect(chat.stop).toBeDisabled();
});

test('the three parameters set in the UI arrive at the server', async ({ chat, page, server }) => {
  await chat.open();
  await page.getByTestId('temperature').fill('1.3');
  await page.getByTestId('top-p').fill('0.55');
  await page.getByTestId('max-tokens').fill('7');
  await chat.say('with params !tokens=50 !tps=0');
  await expect(chat.assistant.last()).toHaveAttribute('data-status', 'done');
  const record = await server.lastReply();
  expect(record!.request.params).toEqual({ temperature: 1.3, top_p: 0.55, max_tokens: 7 });
  // max_tokens was honoured: the reply was cut at 7 tokens and says so.
  expect(record!.tokens_sent).toBe(7);
  await expect(chat.assistant.last().getByTestId('message-note')).toContainText('max_tokens');
});

test('if the side panels cannot load, messages go with the parameters as last set, and the panels come on a retry', async ({ page, server }) => {
  // Not the `chat` fixture: the refused fetches are console errors here.
  const uncaught: string[] = [];
  page.on('pageerror', (e) => uncaught.push(e.message));
  const status = page.getByTestId('connection-status');
  await page.goto(`${server.url}/`);
  await expect(page.locator('.app')).toHaveAttribute('data-panels', 'ready');
  await page.getByTestId('temperature').fill('1.3');
  await page.getByTestId('max-tokens').fill('5');

  const refused = await refuseUntilReleased(page, /\/split_panels-[0-9a-f]+\.wasm$/);
  await page.goto(`${server.url}/`);
  await expect(status).toHaveAttribute('data-state', 'open');
  await expect(page.locator('.app')).toHaveAttribute('data-panels', 'failed');
  await expect(page.getByTestId('settings-notice')).toBeVisible();
  await expect(page.getByTestId('conversations-notice')).toBeVisible();
  await expect(page.getByTestId('temperature')).toHaveCount(0);
  await expect(page.getByTestId('new-conversation')).toHaveCount(0);
  await page.getByTestId('composer').fill('while the settings are away !tokens=50 !tps=0');
  await page.getByTestId('composer').press('Enter');
  await expect(page.locator('[data-testid="message"][data-role="assistant"]').last()).toHaveAttribute('data-status', 'done');
  const record = await server.lastReply();
  expect(record!.request.params).toMatchObject({ temperature: 1.3, max_tokens: 5 });
  expect(record!.tokens_sent).toBe(5);

  refused.release();
  await expect(page.getByTestId('temperature')).toHaveValue('1.3', { timeout: 15_000 });
  await expect(page.getByTestId('max-tokens')).toHaveValue('5');
  await expect(page.getByTestId('settings-notice')).toHaveCount(0);
  await expect(page.getByTestId('conversations-notice')).toHaveCount(0);
  // The conversation list lists the one just had, as current.
  await expect(page.getByTestId('conversation')).toHaveCount(1);
  await expect(page.getByTestId('conversation')).toHaveAttribute('data-current', 'true');
  await expect(page.locator('.app')).toHaveAttribute('data-panels', 'ready');
  expect(refused.asked()).toBeGreaterThan(1);
  expect(uncaught).toEqual([]);
});

test('out-of-range parameters are refused in the UI', async ({ chat, page, server }) => {
  await chat.open();
  await chat.composer.fill('hello');
  await expect(chat.send).toBeEnabled();
  for (const [id, bad] of [['temperature', '2.5'], ['top-p', '1.5'], ['max-tokens', '0'], ['max-tokens', '40000']]) {
    const input = page.getByTestId(id);
    const good = await input.inputValue();
    await input.fill(bad);
    await expect(input).toHaveAttribute('aria-invalid', 'true');
    await expect(page.getByTestId(`${id}-error`)).toContainText('between');
    await expect(chat.send).toBeDisabled();
    await chat.composer.press('Enter');
    await input.fill(good);
    await expect(input).toHaveAttribute('aria-invalid', 'false');
  }
  // Nothing was sent while a value was refused; the draft is intact.
  expect(await server.replies()).toEqual([]);
  await expect(chat.messages).toHaveCount(0);
  await expect(chat.composer).toHaveValue('hello');
  await expect(chat.send).toBeEnabled();
});

test('server restarted mid-session: the reply is kept as interrupted, Continue and Retry work, nothing typed is lost', async ({ chat, server }) => {
  await chat.open();
  await chat.say('before !tokens=5 !tps=0');
  await expect(chat.assistant.last()).toHaveAttribute('data-status', 'done');

  // Killed in the middle of a reply: the partial text stays and waits.
  await chat.say('interrupted !tokens=100000 !tps=30');
  const reply = chat.assistant.last();
  await expect(reply.locator('.text')).toContainText('fox');
  await chat.composer.fill('my draft');
  await server.kill('SIGKILL');
  await expect(chat.status).toHaveAttribute('data-state', 'reconnecting');
  await expect(reply).toHaveAttribute('data-status', 'streaming');
  await expect(reply.getByTestId('message-note')).toContainText('Connection lost');
  await expect(chat.composer).toBeEnabled();
  await expect(chat.composer).toHaveValue('my draft');

  // The restarted server no longer has the reply: it is interrupted, kept.
  await server.start();
  await expect(chat.status).toHaveAttribute('data-state', 'open');
  await expect(reply).toHaveAttribute('data-status', 'interrupted');
  await expect(reply.getByTestId('message-error')).toContainText('could not be resumed');
  await expect(reply.locator('.text')).toContainText('fox');
  const partial = await rawText(reply);
  await expect(chat.composer).toHaveValue('my draft');

  // Continue appends to the partial reply; the model sees it as history.
  await reply.getByTestId('continue-reply').click();
  await expect(reply).toHaveAttribute('data-status', 'streaming');
  await chat.stop.click();
  await expect(reply).toHaveAttribute('data-status', 'stopped');
  const cont = (await server.lastReply())!;
  expect(cont.request.messages.at(-2)).toEqual({ role: 'assistant', content: partial });
  expect(cont.request.messages.at(-1)!.content).toContain('Continue');
  expect((await rawText(reply)).startsWith(partial)).toBe(true);

  // Retry asks again for the same turn and replaces the text.
  await reply.getByTestId('retry-reply').click();
  await expect(reply).toHaveAttribute('data-status', 'streaming');
  await chat.stop.click();
  await expect(reply).toHaveAttribute('data-status', 'stopped');
  const retried = (await server.lastReply())!;
  expect(retried.request.messages.at(-1)).toEqual({ role: 'user', content: 'interrupted !tokens=100000 !tps=30' });
  // Replaced, not appended: what is shown is what the new reply sent.
  expect(retried.text.startsWith(await rawText(reply))).toBe(true);

  await chat.composer.fill('after !tokens=4 !tps=0');
  await chat.composer.press('Enter');
  await expect(chat.assistant.last()).toHaveAttribute('data-status', 'done');
  await expect(chat.assistant).toHaveCount(3);
  await expect(chat.user).toHaveCount(3);
});

test('a graceful server shutdown also reconnects', async ({ chat, server }) => {
  await chat.open();
  await server.kill('SIGTERM');
  await expect(chat.status).toHaveAttribute('data-state', 'reconnecting');
  await server.start();
  await expect(chat.status).toHaveAttribute('data-state', 'open');
});

test('a server error frame shows on that message and the app keeps working', async ({ chat }) => {
  await chat.open();
  await chat.say('fail please !error=3 !tps=50');
  const reply = chat.assistant.last();
  await expect(reply).toHaveAttribute('data-status', 'error');
  await expect(reply.getByTestId('message-error')).toContainText('engine');
  // The three tokens before the failure are kept.
  await expect(reply.locator('.text strong')).toHaveText('brown');
  expect(await rawText(reply)).toBe('The quick **brown** ');
  await expect(chat.status).toHaveAttribute('data-state', 'open');

  await chat.say('and now? !tokens=3 !tps=0');
  await expect(chat.assistant.last()).toHaveAttribute('data-status', 'done');
});

test('an undecodable frame is reported and loses nothing', async ({ chat, page }) => {
  // Fault injection: this one socket is answered by a hand-written peer
  // that sends one corrupt frame in the middle of a reply.
  await page.routeWebSocket(/\/ws$/, (ws) => {
    ws.onMessage((raw) => {
      const f = JSON.parse(String(raw));
      if (f.type === 'hello') {
        ws.send(JSON.stringify({ type: 'welcome', v: 1, server: 'fault', models: [], heartbeat_ms: 15000, max_frame_bytes: 65536 }));
      } else if (f.type === 'chat') {
        ws.send(JSON.stringify({ type: 'start', id: f.id, seq: 0, model: 'm' }));
        ws.send(JSON.stringify({ type: 'delta', id: f.id, seq: 1, text: 'kept ' }));
        ws.send('{"type":"delta", this is not json');
        ws.send(JSON.stringify({ type: 'delta', id: f.id, seq: 2, text: 'text' }));
        ws.send(JSON.stringify({ type: 'end', id: f.id, seq: 3, finish_reason: 'stop' }));
      }
    });
  });
  await chat.open();
  await chat.say('hi');
  const reply = chat.assistant.last();
  await expect(reply).toHaveAttribute('data-status', 'done');
  await expect(reply.locator('.text')).toHaveText('kept text');
  await expect(reply.getByTestId('message-error')).toContainText('cannot read');
  await expect(page.getByTestId('connection-error')).toContainText('cannot read');
  await expect(chat.user.locator('.text')).toHaveText('hi');
});

test('a malformed backend URL is rejected with a clear message', async ({ chat, page }) => {
  await chat.open('?backend=ftp%3A%2F%2Fexample.org%2Fws', false);
  await expect(page.getByTestId('config-error')).toContainText('unsupported scheme');
  await expect(chat.status).toHaveAttribute('data-state', 'closed');
  await expect(chat.composer).toBeDisabled();
});

test('an unreachable backend keeps retrying; a message typed meanwhile waits as pending', async ({ chat, page }) => {
  // Port 9 (discard): nothing listens there on this machine.
  await chat.open('?backend=ws%3A%2F%2F127.0.0.1%3A9%2Fws', false);
  await expect(chat.status).toHaveAttribute('data-state', 'reconnecting');
  await expect(chat.status).toContainText('attempt');
  await expect(page.getByTestId('config-error')).toHaveCount(0);
  await chat.say('hello later');
  await expect(chat.user.last()).toHaveAttribute('data-status', 'pending');
  await expect(chat.user.last().getByTestId('message-note')).toContainText('sent when');
  await expect(chat.assistant).toHaveCount(0);
  await expect(chat.composer).toHaveValue('');
});

test('a conversation longer than the server takes is cut from the oldest, with a notice; a message too long alone fails its reply', async ({ page, pageErrors }) => {
  void pageErrors;
  const server = new Server(['--engine', 'scripted', '--max-frame-bytes', '4096']);
  await server.start();
  try {
    await page.goto(server.url);
    const status = page.getByTestId('connection-status');
    await expect(status).toHaveAttribute('data-state', 'open');
    const assistant = page.locator('[data-testid="message"][data-role="assistant"]');
    const say = async (text: string) => {
      await page.getByTestId('composer').fill(text);
      await page.getByTestId('send').click();
    };
    const long = (tag: string) => `${tag} !tokens=3 !tps=0 ${'x'.repeat(1500)}`;
    for (const [i, tag] of ['one', 'two'].entries()) {
      await say(long(tag));
      await expect(assistant.nth(i)).toHaveAttribute('data-status', 'done');
    }
    await expect(page.getByTestId('backend-notice')).toHaveCount(0);
    // Three long user messages and two replies exceed 4 KB: the first
    // question goes, and its reply with it.
    await say(long('three'));
    await expect(assistant.nth(2)).toHaveAttribute('data-status', 'done');
    await expect(page.getByTestId('backend-notice')).toContainText('the oldest 2 messages were left out');
    const sent = (await server.lastReply())!.request.messages;
    expect(sent.map((m) => m.content.split(' ')[0])).toEqual(['two', (await server.replies())[1].text.split(' ')[0], 'three']);
    expect(sent.at(-1)!.content).toBe(long('three'));

    // One message above the limit cannot be cut: its reply fails with the reason.
    await say(`!tokens=3 ${'y'.repeat(5000)}`);
    await expect(assistant.nth(3)).toHaveAttribute('data-status', 'error');
    await expect(assistant.nth(3).getByTestId('message-error')).toContainText('exceeds the limit');
    await expect(page.getByTestId('composer')).toBeEnabled();
    await say('still here? !tokens=2 !tps=0');
    await expect(assistant.nth(4)).toHaveAttribute('data-status', 'done');
    await expect(status).toHaveAttribute('data-state', 'open');
  } finally {
    await server.kill();
  }
});

// Static hosting under a path: dist/ links its files relative to the page
// (trunk's public_url "./"; the boot script and the split loader find
// their files beside themselves). A plain static server in the test
// serves dist/ under /tools/chat/, with nothing at its root; the backend
// is the companion server, named in the URL.
test('the built app works from a static host under any path, not only at its root', async ({ chat, page, server }) => {
  const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm', '.json': 'application/json' };
  const asked: string[] = [];
  const host = http.createServer((req, res) => {
    const p = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    asked.push(p);
    if (p === '/tools/chat/config.json') {
      // The host's configuration, next to index.html.
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"title": "Chat under a path"}');
      return;
    }
    const rel = p.startsWith('/tools/chat/') ? p.slice('/tools/chat/'.length) || 'index.html' : null;
    const file = rel && !rel.includes('..') ? path.join(DIST, rel) : null;
    if (!file || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': types[path.extname(file)] ?? 'application/octet-stream' });
    res.end(fs.readFileSync(file));
  });
  await new Promise<void>((r) => host.listen(0, '127.0.0.1', r));
  const { port } = host.address() as AddressInfo;
  try {
    const backend = encodeURIComponent(`${server.url.replace(/^http/, 'ws')}/ws`);
    await page.goto(`http://127.0.0.1:${port}/tools/chat/?backend=${backend}`);
    await expect(chat.status).toHaveAttribute('data-state', 'open');
    await expect(page.getByTestId('app-title')).toHaveText('Chat under a path');
    await chat.say('!echo !tps=0\n# Heading\n\nSome *text*.');
    const reply = chat.assistant.last();
    await expect(reply).toHaveAttribute('data-status', 'done');
    await expect(reply.locator('h1')).toHaveText('Heading');
    await expect(page.locator('.app')).toHaveAttribute('data-renderer', 'ready');
    await expect(page.locator('.app')).toHaveAttribute('data-panels', 'ready');
    expect(asked.filter((p) => !p.startsWith('/tools/chat/'))).toEqual([]);
    expect(asked.some((p) => /^\/tools\/chat\/split_markdown-[0-9a-f]+\.wasm$/.test(p))).toBe(true);
    expect(asked.some((p) => /^\/tools\/chat\/split_panels-[0-9a-f]+\.wasm$/.test(p))).toBe(true);
  } finally {
    await new Promise((r) => host.close(() => r(undefined)));
  }
});
