// The four seed dialects against peers that behave as their seeds describe
// (e2e/peers). The app is served by the companion server and pointed at the
// peer with ?protocol=…&backend=…; what the app sent is checked from the
// peer's side.
import { test, expect, rawText, refuseUntilReleased } from '../support/fixtures';
import type { Page } from '@playwright/test';

const q = (params: Record<string, string>) => '?' + new URLSearchParams(params).toString();

/** A tiny valid PNG (1×1), padded to `size` bytes with a trailing chunk. */
function png(size = 68): Buffer {
  const base = Buffer.from(
    '89504e470d0a1a0a0000000d4948445200000001000000010806000000' +
      '1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082',
    'hex',
  );
  return size > base.length ? Buffer.concat([base, Buffer.alloc(size - base.length)]) : base;
}

async function assistantText(page: Page, index: number) {
  return rawText(page.locator('[data-testid="message"][data-role="assistant"]').nth(index));
}

test('the other dialects are a module a native page never fetches; if it cannot load, the app retries, then connects and sends what waited', async ({ page, server, startPeer }) => {
  // Not the `chat` fixture: the refused fetches are console errors here.
  const fetched: string[] = [];
  page.on('request', (r) => {
    if (/\/split_dialects-[0-9a-f]+\.wasm$/.test(r.url())) fetched.push(r.url());
  });
  const status = page.getByTestId('connection-status');
  await page.goto(`${server.url}/`);
  await expect(status).toHaveAttribute('data-state', 'open');
  await expect(page.locator('.app')).toHaveAttribute('data-renderer', 'ready');
  expect(fetched).toEqual([]);

  const peer = await startPeer('qwen');
  const refused = await refuseUntilReleased(page, /\/split_dialects-[0-9a-f]+\.wasm$/);
  await page.goto(`${server.url}/${q({ protocol: 'qwen', backend: `${peer.ws}/ws` })}`);
  await expect(status).toHaveAttribute('data-state', 'reconnecting');
  await page.getByTestId('composer').fill('你好 qwen');
  await page.getByTestId('composer').press('Enter');
  const user = page.locator('[data-testid="message"][data-role="user"]');
  await expect(user).toHaveAttribute('data-status', 'pending');

  refused.release();
  await expect(status).toHaveAttribute('data-state', 'open', { timeout: 15_000 });
  const reply = page.locator('[data-testid="message"][data-role="assistant"]').first();
  await expect(reply).toHaveAttribute('data-status', 'done');
  const rec = await peer.record();
  expect(rec.received[0].message).toBe('你好 qwen');
  expect(await assistantText(page, 0)).toBe(rec.generations[0].text);
  expect(refused.asked()).toBeGreaterThan(1);
});

test.describe('qwen (seed 000)', () => {
  test('two turns stream and complete; history and parameters reach the peer', async ({ chat, page, startPeer }) => {
    const peer = await startPeer('qwen');
    await chat.open(q({ protocol: 'qwen', backend: `${peer.ws}/ws` }));
    await expect(page.getByTestId('model')).toHaveCount(0);
    await expect(page.getByTestId('temperature')).toBeEnabled();

    await chat.say('你好 qwen');
    await expect(chat.assistant.nth(0)).toHaveAttribute('data-status', 'done');
    await page.getByTestId('repetition-penalty').fill('1.1');
    await chat.say('second turn');
    await expect(chat.assistant.nth(1)).toHaveAttribute('data-status', 'done');

    const rec = await peer.record();
    expect(await assistantText(page, 0)).toBe(rec.generations[0].text);
    expect(await assistantText(page, 1)).toBe(rec.generations[1].text);
    expect(rec.received[0]).toEqual({
      message: '你好 qwen', history: [], stream: true, max_tokens: 512, temperature: 0.7, top_p: 0.9,
    });
    expect(rec.received[1]).toEqual({
      message: 'second turn',
      history: [
        { role: 'user', content: '你好 qwen' },
        { role: 'assistant', content: rec.generations[0].text },
      ],
      stream: true, max_tokens: 512, temperature: 0.7, top_p: 0.9, repetition_penalty: 1.1,
    });
  });

  test('edit and resend, and regenerate, send the history as it now stands', async ({ chat, page, startPeer }) => {
    const peer = await startPeer('qwen');
    await chat.open(q({ protocol: 'qwen', backend: `${peer.ws}/ws` }));
    await chat.say('first');
    await expect(chat.assistant.nth(0)).toHaveAttribute('data-status', 'done');
    await chat.say('second');
    await expect(chat.assistant.nth(1)).toHaveAttribute('data-status', 'done');
    await chat.user.nth(0).hover();
    await chat.user.nth(0).getByTestId('edit-message').click();
    await chat.user.nth(0).getByTestId('edit-input').fill('first, edited');
    await chat.user.nth(0).getByTestId('edit-send').click();
    await expect(chat.messages).toHaveCount(2);
    await expect(chat.assistant.last()).toHaveAttribute('data-status', 'done');
    await page.getByTestId('regenerate-reply').click();
    await expect(chat.assistant.last()).toHaveAttribute('data-status', 'done');
    const rec = await peer.record();
    expect(rec.received[2]).toMatchObject({ message: 'first, edited', history: [] });
    expect(rec.received[3]).toMatchObject({ message: 'first, edited', history: [] });
    expect(await assistantText(page, 0)).toBe(rec.generations[3].text);
  });

  test('the history window is configurable', async ({ chat, page, startPeer }) => {
    const peer = await startPeer('qwen');
    await chat.open(q({ protocol: 'qwen', backend: `${peer.ws}/ws`, history: '2' }));
    await expect(page.getByTestId('history-window')).toHaveValue('2');
    for (const m of ['one', 'two', 'three']) {
      await chat.say(m);
      await expect(chat.assistant.last()).toHaveAttribute('data-status', 'done');
    }
    const rec = await peer.record();
    expect(rec.received[2].history).toEqual([
      { role: 'user', content: 'two' },
      { role: 'assistant', content: rec.generations[1].text },
    ]);
  });

  test('Stop sends {"stop": true}, the peer stops, and the next turn works', async ({ chat, startPeer }) => {
    const peer = await startPeer('qwen');
    await chat.open(q({ protocol: 'qwen', backend: `${peer.ws}/ws`, silence_ms: '500' }));
    await chat.say('long !tokens=2000 !tps=20');
    const reply = chat.assistant.nth(0);
    await expect(reply.locator('.text')).toContainText('w3');
    await chat.stop.click();
    await expect(reply).toHaveAttribute('data-status', 'stopped');
    await expect(reply.locator('.text')).toHaveAttribute('data-render', 'complete');
    const atStop = await reply.locator('.text').textContent();
    await expect.poll(async () => (await peer.record()).generations[0].state).toBe('stopped');
    expect((await peer.record()).received[1]).toEqual({ stop: true });
    // The stopped reply drains by silence, then the next turn goes out.
    await chat.composer.fill('after the stop');
    await expect(chat.send).toBeEnabled();
    await chat.composer.press('Enter');
    await expect(chat.assistant.last()).toHaveAttribute('data-status', 'done');
    expect(await reply.locator('.text').textContent()).toBe(atStop);
  });

  test('a server that sends no end marker: silence ends the reply', async ({ chat, startPeer }) => {
    const peer = await startPeer('qwen', { CHATWIRE_PEER_NO_END: '1' });
    await chat.open(q({ protocol: 'qwen', backend: `${peer.ws}/ws`, silence_ms: '700' }));
    await chat.say('no marker');
    const reply = chat.assistant.last();
    await expect(reply).toHaveAttribute('data-status', 'streaming');
    await expect(reply).toHaveAttribute('data-status', 'done');
    expect(await rawText(reply)).toBe((await peer.record()).generations[0].text);
  });
});

test.describe('socketio (seed 001)', () => {
  test('handshake, info notice, two turns; sampling shown as not applicable', async ({ chat, page, startPeer }) => {
    const peer = await startPeer('socketio');
    await chat.open(q({ protocol: 'socketio', backend: peer.ws }));
    await expect(page.getByTestId('backend-notice')).toHaveText('已连接到视觉AI服务');
    const temperature = page.getByTestId('temperature');
    await expect(temperature).toBeDisabled();
    await expect(page.getByTestId('temperature-error')).toHaveText('Not used by this backend');

    await chat.say('first question');
    await expect(chat.assistant.nth(0)).toHaveAttribute('data-status', 'done');
    await chat.say('second question');
    await expect(chat.assistant.nth(1)).toHaveAttribute('data-status', 'done');
    const rec = await peer.record();
    expect(rec.received.filter((r) => r.event === 'message')).toEqual([
      { event: 'message', text: 'first question', image: null },
      { event: 'message', text: 'second question', image: null },
    ]);
    expect(await assistantText(page, 1)).toBe(rec.generations[1].text);
  });

  test('an image attached by file picker and by paste reaches the peer', async ({ chat, page, startPeer }) => {
    const peer = await startPeer('socketio');
    await chat.open(q({ protocol: 'socketio', backend: peer.ws }));
    const file = png(1000);
    await page.getByTestId('attach-input').setInputFiles({ name: 'cat.png', mimeType: 'image/png', buffer: file });
    await expect(page.getByTestId('attachment-preview')).toBeVisible();
    await chat.say('what is this?');
    await expect(chat.assistant.last()).toHaveAttribute('data-status', 'done');
    await expect(chat.assistant.last()).toContainText('I see a image/png image.');
    await expect(chat.user.last().getByTestId('message-image')).toBeVisible();
    await expect(page.getByTestId('attachment-preview')).toHaveCount(0);
    let rec = await peer.record();
    expect(rec.received.find((r) => r.event === 'message')!.image).toEqual({
      header: 'data:image/png;base64', bytes: file.length,
    });

    // Paste: a ClipboardEvent carrying an image file.
    await chat.composer.focus();
    await page.evaluate((bytes) => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(bytes)], 'pasted.webp', { type: 'image/webp' }));
      const ev = new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true });
      document.querySelector('[data-testid="composer"]')!.dispatchEvent(ev);
    }, [...png(200)]);
    await expect(page.getByTestId('attachment-preview')).toBeVisible();
    await chat.say('and this one?');
    await expect(chat.assistant.last()).toHaveAttribute('data-status', 'done');
    rec = await peer.record();
    expect(rec.received.filter((r) => r.event === 'message')[1].image).toEqual({
      header: 'data:image/webp;base64', bytes: 200,
    });
  });

  test('wrong image types and oversized images are refused with a clear message', async ({ chat, page, startPeer }) => {
    const peer = await startPeer('socketio');
    await chat.open(q({ protocol: 'socketio', backend: peer.ws, image_max_kb: '1' }));
    const input = page.getByTestId('attach-input');
    await input.setInputFiles({ name: 'x.svg', mimeType: 'image/svg+xml', buffer: Buffer.from('<svg/>') });
    await expect(page.getByTestId('attachment-error')).toContainText('Only JPEG, PNG, WebP and GIF');
    await input.setInputFiles({ name: 'big.png', mimeType: 'image/png', buffer: png(5000) });
    await expect(page.getByTestId('attachment-error')).toContainText('up to 1 KB');
    await expect(page.getByTestId('attachment-preview')).toHaveCount(0);
    await input.setInputFiles({ name: 'ok.gif', mimeType: 'image/gif', buffer: Buffer.alloc(500) });
    await expect(page.getByTestId('attachment-preview')).toBeVisible();
    await expect(page.getByTestId('attachment-error')).toHaveCount(0);
    await page.getByTestId('attachment-remove').click();
    await expect(page.getByTestId('attachment-preview')).toHaveCount(0);
  });

  test('Stop ends the reply here, says the server may go on, and drops the rest', async ({ chat, page, startPeer }) => {
    const peer = await startPeer('socketio');
    await chat.open(q({ protocol: 'socketio', backend: peer.ws }));
    await expect(page.getByTestId('stop-kind')).toContainText('no stop');
    await chat.say('long !tokens=60 !tps=30');
    const reply = chat.assistant.nth(0);
    await expect(reply.locator('.text')).toContainText('w3');
    await chat.stop.click();
    await expect(reply).toHaveAttribute('data-status', 'stopped');
    await expect(reply.getByTestId('message-note')).toContainText('may still be generating');
    await expect(reply.locator('.text')).toHaveAttribute('data-render', 'complete');
    const atStop = await reply.locator('.text').textContent();
    await chat.composer.fill('next');
    await expect(page.getByTestId('send-blocked')).toContainText('stopped reply');
    // The peer really went on to its final; then the app accepts a new turn.
    await expect.poll(async () => (await peer.record()).generations[0].state, { timeout: 15_000 }).toBe('completed');
    await expect(chat.send).toBeEnabled();
    await chat.composer.press('Enter');
    await expect(chat.assistant.last()).toHaveAttribute('data-status', 'done');
    expect(await reply.locator('.text').textContent()).toBe(atStop);
    expect(atStop!.length).toBeLessThan((await peer.record()).generations[0].text.length);
  });
});

test.describe('nexlm (seed 002)', () => {
  test('two turns with a chosen modelType; replies end by silence', async ({ chat, page, startPeer }) => {
    const peer = await startPeer('nexlm');
    await chat.open(q({ protocol: 'nexlm', backend: `${peer.ws}/api/ai/chat/websocket`, silence_ms: '600' }));
    await expect(page.getByTestId('model').locator('option')).toHaveText(['chatgpt', 'deepseek', 'local']);
    await page.getByTestId('model').selectOption('deepseek');
    await chat.say('hello nexlm');
    await expect(chat.assistant.nth(0)).toHaveAttribute('data-status', 'done');
    await page.getByTestId('model').selectOption('local');
    await chat.say('again');
    await expect(chat.assistant.nth(1)).toHaveAttribute('data-status', 'done');
    const rec = await peer.record();
    expect(rec.received).toEqual([
      { modelType: 'deepseek', message: 'hello nexlm' },
      { modelType: 'local', message: 'again' },
    ]);
    expect(await assistantText(page, 1)).toBe(rec.generations[1].text);
  });

  test('Stop closes the socket, the peer stops, and the app reconnects', async ({ chat, page, startPeer }) => {
    const peer = await startPeer('nexlm');
    await chat.open(q({ protocol: 'nexlm', backend: `${peer.ws}/web/api/ai/chat/websocket`, silence_ms: '600' }));
    await chat.say('long !tokens=2000 !tps=20');
    const reply = chat.assistant.last();
    await expect(reply.locator('.text')).toContainText('w3');
    await chat.stop.click();
    await expect(reply).toHaveAttribute('data-status', 'stopped');
    await expect.poll(async () => (await peer.record()).generations[0].state).toBe('closed');
    await expect.poll(async () => (await peer.record()).connections.length).toBe(2);
    await expect(chat.status).toHaveAttribute('data-state', 'open');
    await chat.say('next');
    await expect(chat.assistant.last()).toHaveAttribute('data-status', 'done');
    expect((await peer.record()).connections[0].path).toBe('/web/api/ai/chat/websocket');
  });

  test("the seed's failure sentence shows as an error", async ({ chat, startPeer }) => {
    const peer = await startPeer('nexlm');
    await chat.open(q({ protocol: 'nexlm', backend: `${peer.ws}/api/ai/chat/websocket`, silence_ms: '600' }));
    await chat.say('break !fail');
    const reply = chat.assistant.last();
    await expect(reply).toHaveAttribute('data-status', 'error');
    await expect(reply.getByTestId('message-error')).toHaveText('AI 服务异常,请稍后重试。');
    await chat.say('fine now');
    await expect(chat.assistant.last()).toHaveAttribute('data-status', 'done');
  });
});

test.describe('session (seed 003)', () => {
  test('client id in the URL, session id kept across turns and reloads, server-side history', async ({ chat, page, startPeer }) => {
    const peer = await startPeer('session');
    const url = q({ protocol: 'session', backend: `${peer.ws}/ws/chat` });
    await chat.open(url);
    await chat.say('第一句');
    await expect(chat.assistant.nth(0)).toHaveAttribute('data-status', 'done');
    await chat.say('second');
    await expect(chat.assistant.nth(1)).toHaveAttribute('data-status', 'done');

    let rec = await peer.record();
    const clientId = await page.evaluate(() => localStorage.getItem('chatwire.client_id'));
    // 128 random bits: it authorizes resuming this browser's replies.
    expect(clientId).toMatch(/^client_[0-9a-f]{32}$/);
    expect(rec.connections[0].client_id).toBe(clientId);
    expect(rec.received[0]).toEqual({ client_id: clientId, message: '第一句', stream: true, model: 'qwen3-max' });
    const sessionId = rec.received[1].session_id;
    expect(sessionId).toBeTruthy();
    expect(rec.generations[1].history_len).toBe(3);
    expect(await assistantText(page, 1)).toBe(rec.generations[1].text);

    await page.reload();
    await expect(chat.status).toHaveAttribute('data-state', 'open');
    await chat.say('after reload');
    await expect(chat.assistant.last()).toHaveAttribute('data-status', 'done');
    rec = await peer.record();
    expect(rec.received[2].session_id).toBe(sessionId);
    expect(rec.connections[1].client_id).toBe(clientId);
    expect(rec.generations[2].history_len).toBe(5);

    await page.getByTestId('clear-session').click();
    await chat.say('fresh start');
    await expect(chat.assistant.last()).toHaveAttribute('data-status', 'done');
    rec = await peer.record();
    expect(rec.received[3].session_id).toBeUndefined();
    expect(rec.generations[3].history_len).toBe(1);
  });

  test('each conversation continues its own session, after a browser restart too', async ({ chat, page, browser, server, startPeer }) => {
    const peer = await startPeer('session');
    const url = q({ protocol: 'session', backend: `${peer.ws}/ws/chat` });
    await chat.open(url);
    await chat.say('in A');
    await expect(chat.assistant.last()).toHaveAttribute('data-status', 'done');
    await page.getByTestId('new-conversation').click();
    await expect(chat.messages).toHaveCount(0);
    await chat.say('in B');
    await expect(chat.assistant.last()).toHaveAttribute('data-status', 'done');
    let rec = await peer.record();
    // B started its own server-side conversation.
    expect(rec.received[1].session_id).toBeUndefined();

    // Back to A: its next turn names A's session, whose history has A only.
    await page.getByTestId('conversation').filter({ hasText: 'in A' }).getByTestId('open-conversation').click();
    await expect(chat.user.locator('.text')).toHaveText(['in A']);
    await chat.say('A again');
    await expect(chat.assistant.last()).toHaveAttribute('data-status', 'done');
    rec = await peer.record();
    const sessionA = rec.generations[0].session_id;
    const sessionB = rec.generations[1].session_id;
    expect(sessionA).toBeTruthy();
    expect(sessionB).toBeTruthy();
    expect(sessionB).not.toBe(sessionA);
    expect(rec.received[2].session_id).toBe(sessionA);
    expect(rec.generations[2].history_len).toBe(3);

    // A browser restart: a new context with only what was stored on disk
    // (localStorage; sessionStorage does not survive).
    const state = await page.context().storageState();
    await page.close();
    const context = await browser.newContext({ storageState: state });
    const again = await context.newPage();
    const errors: string[] = [];
    again.on('pageerror', (e) => errors.push(e.message));
    await again.goto(`${server.url}/${url}`);
    await expect(again.getByTestId('connection-status')).toHaveAttribute('data-state', 'open');
    await again.getByTestId('conversation').filter({ hasText: 'in B' }).getByTestId('open-conversation').click();
    await expect(again.locator('[data-testid="message"][data-role="user"] .text')).toHaveText(['in B']);
    await again.getByTestId('composer').fill('B again');
    await again.getByTestId('composer').press('Enter');
    await expect(again.locator('[data-testid="message"][data-role="assistant"]').last()).toHaveAttribute('data-status', 'done');
    rec = await peer.record();
    expect(rec.received[3].session_id).toBe(sessionB);
    expect(rec.generations[3].history_len).toBe(3);
    expect(errors).toEqual([]);
    await context.close();
  });

  test('model choice and stream off (the reply arrives whole)', async ({ chat, page, startPeer }) => {
    const peer = await startPeer('session');
    await chat.open(q({ protocol: 'session', backend: `${peer.ws}/ws/chat`, models: 'qwen3-max,qwen-plus' }));
    await page.getByTestId('model').selectOption('qwen-plus');
    await page.getByTestId('stream').uncheck();
    await chat.say('whole please');
    await expect(chat.assistant.last()).toHaveAttribute('data-status', 'done');
    const rec = await peer.record();
    expect(rec.received[0]).toMatchObject({ message: 'whole please', stream: false, model: 'qwen-plus' });
    expect(rec.generations[0].sent).toHaveLength(1);
    expect(await assistantText(page, 0)).toBe(rec.generations[0].text);
  });

  test('cancel names the session and the peer confirms', async ({ chat, page, startPeer }) => {
    const peer = await startPeer('session');
    await chat.open(q({ protocol: 'session', backend: `${peer.ws}/ws/chat` }));
    await chat.say('long !tokens=2000 !tps=20');
    const reply = chat.assistant.last();
    await expect(reply.locator('.text')).toContainText('w3');
    await chat.stop.click();
    await expect(reply).toHaveAttribute('data-status', 'stopped');
    await expect(chat.stop).toBeDisabled();
    const rec = await peer.record();
    // The session the peer assigned to this reply.
    const sessionId = rec.generations[0].session_id;
    expect(sessionId).toBeTruthy();
    expect(rec.received[1]).toEqual({ client_id: rec.connections[0].client_id, message: 'cancel', session_id: sessionId });
    await expect.poll(async () => (await peer.record()).generations[0].state).toBe('cancelled');
    await chat.say('next');
    await expect(chat.assistant.last()).toHaveAttribute('data-status', 'done');
  });

  test('an error status shows on the message', async ({ chat, startPeer }) => {
    const peer = await startPeer('session');
    await chat.open(q({ protocol: 'session', backend: `${peer.ws}/ws/chat` }));
    await chat.say('boom !fail');
    const reply = chat.assistant.last();
    await expect(reply).toHaveAttribute('data-status', 'error');
    await expect(reply.getByTestId('message-error')).toContainText('upstream failed');
  });
});

test('settings a dialect cannot carry are shown as such; its own are kept per protocol', async ({ chat, page, startPeer }) => {
  const peer = await startPeer('session');
  const url = q({ protocol: 'session', backend: `${peer.ws}/ws/chat`, models: 'qwen3-max,qwen-plus' });
  await chat.open(url);
  // No place for a system prompt in this wire format.
  await expect(page.getByTestId('system-prompt')).toBeDisabled();
  await expect(page.locator('.system-prompt')).toHaveAttribute('data-applicable', 'false');
  await page.getByTestId('model').selectOption('qwen-plus');
  await page.getByTestId('stream').uncheck();
  await page.reload();
  await expect(chat.status).toHaveAttribute('data-state', 'open');
  await expect(page.getByTestId('model')).toHaveValue('qwen-plus');
  await expect(page.getByTestId('stream')).not.toBeChecked();
  await chat.say('kept');
  await expect(chat.assistant.last()).toHaveAttribute('data-status', 'done');
  const rec = await peer.record();
  expect(rec.received[0]).toMatchObject({ message: 'kept', stream: false, model: 'qwen-plus' });
});

test('an empty model list in the configuration: the model is typed freely', async ({ chat, page, startPeer }) => {
  const peer = await startPeer('session');
  await chat.open(q({ protocol: 'session', backend: `${peer.ws}/ws/chat`, models: '' }));
  const model = page.getByTestId('model');
  await expect(model).toHaveAttribute('type', 'text');
  await model.fill('qwen-max-latest');
  await chat.say('typed model');
  await expect(chat.assistant.last()).toHaveAttribute('data-status', 'done');
  const rec = await peer.record();
  expect(rec.received[0]).toMatchObject({ message: 'typed model', model: 'qwen-max-latest' });
});
