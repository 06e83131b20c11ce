// Nothing lost: conversations survive reloads, dropped connections and
// server restarts. Real server processes; the network is cut with a TCP
// relay while the server keeps running.
import { test, expect, rawText } from '../support/fixtures';
import { Relay } from '../support/proxy';

test('a reload in the middle of a reply resumes it: nothing lost, nothing repeated', async ({ chat, server, page }) => {
  await chat.open();
  await chat.say('long one !tokens=300 !tps=60');
  const reply = chat.assistant.last();
  await expect(reply.locator('.text')).toContainText('fox');
  await page.reload();
  await expect(chat.status).toHaveAttribute('data-state', 'open');
  await expect(chat.user).toHaveCount(1);
  await expect(chat.user.locator('.text')).toHaveText('long one !tokens=300 !tps=60');
  await expect(chat.assistant).toHaveCount(1);
  // The same message goes on streaming, then ends.
  await expect(chat.assistant.last()).toHaveAttribute('data-status', 'done', { timeout: 20_000 });
  const record = (await server.replies())[0];
  expect(await server.replies()).toHaveLength(1);
  expect(record.finish_reason).toBe('stop');
  expect(await rawText(chat.assistant.last())).toBe(record.text);
});

test('a network cut longer than several backoff steps: the reply resumes where it broke off', async ({ chat, server, page }) => {
  const relay = new Relay(() => server.port);
  await relay.start();
  try {
    await chat.open(relay.query());
    await chat.say('cut me !tokens=400 !tps=50');
    const reply = chat.assistant.last();
    await expect(reply.locator('.text')).toContainText('fox');
    relay.cutOff();
    await expect(chat.status).toHaveAttribute('data-state', 'reconnecting');
    await expect(reply.getByTestId('message-note')).toContainText('Connection lost');
    // Several reconnect attempts fail while the server streams on.
    await expect.poll(() => relay.refused, { timeout: 20_000 }).toBeGreaterThanOrEqual(4);
    await expect(reply).toHaveAttribute('data-status', 'streaming');
    relay.restore();
    await expect(chat.status).toHaveAttribute('data-state', 'open', { timeout: 20_000 });
    await expect(reply).toHaveAttribute('data-status', 'done', { timeout: 20_000 });
    const records = await server.replies();
    expect(records).toHaveLength(1);
    expect(await rawText(reply)).toBe(records[0].text);
    await expect(page.getByTestId('message-error')).toHaveCount(0);
  } finally {
    await relay.close();
  }
});

test('a message sent while offline waits as pending, survives a reload, and goes out on reconnect', async ({ chat, server, page }) => {
  const relay = new Relay(() => server.port);
  await relay.start();
  try {
    await chat.open(relay.query());
    relay.cutOff();
    await expect(chat.status).toHaveAttribute('data-state', 'reconnecting');
    await chat.say('sent offline !tokens=6 !tps=0');
    const user = chat.user.last();
    await expect(user).toHaveAttribute('data-status', 'pending');
    await expect(chat.composer).toHaveValue('');
    await page.reload();
    await expect(chat.user.last()).toHaveAttribute('data-status', 'pending');
    expect(await server.replies()).toEqual([]);
    relay.restore();
    await expect(chat.status).toHaveAttribute('data-state', 'open', { timeout: 20_000 });
    await expect(chat.user.last()).toHaveAttribute('data-status', 'done');
    await expect(chat.assistant.last()).toHaveAttribute('data-status', 'done');
    const records = await server.replies();
    expect(records).toHaveLength(1);
    expect(records[0].request.messages.at(-1)!.content).toBe('sent offline !tokens=6 !tps=0');
    expect(await rawText(chat.assistant.last())).toBe(records[0].text);
  } finally {
    await relay.close();
  }
});

test('two tabs on the same conversation see each other and corrupt nothing', async ({ chat, server, context }) => {
  await chat.open();
  const a = chat.page;
  const b = await context.newPage();
  await b.goto(server.url);
  await expect(b.getByTestId('connection-status')).toHaveAttribute('data-state', 'open');

  await chat.say('from tab A !tokens=5 !tps=0');
  await expect(chat.assistant.last()).toHaveAttribute('data-status', 'done');
  // Saved (the title comes with the first save); tab B, reloaded, shows
  // the conversation tab A saved last.
  await expect(a.getByTestId('conversation').first()).toContainText('from tab A');
  await b.reload();
  const bMessages = b.getByTestId('message');
  await expect(bMessages).toHaveCount(2);
  await b.getByTestId('composer').fill('from tab B !tokens=4 !tps=0');
  await b.getByTestId('composer').press('Enter');
  await expect(b.locator('[data-testid="message"][data-role="assistant"]').last()).toHaveAttribute('data-status', 'done');
  // Tab A receives tab B's messages without a reload.
  await expect(chat.messages).toHaveCount(4);
  await expect(chat.user.nth(1).locator('.text')).toHaveText('from tab B !tokens=4 !tps=0');
  // Both reload to the same four messages, in order.
  for (const p of [a, b]) {
    await p.reload();
    const users = p.locator('[data-testid="message"][data-role="user"] .text');
    await expect(users).toHaveText(['from tab A !tokens=5 !tps=0', 'from tab B !tokens=4 !tps=0']);
    await expect(p.getByTestId('message')).toHaveCount(4);
  }
  await b.close();
});

test('conversations: new, switch, rename, delete with undo, newest first, kept across reloads', async ({ chat, page }) => {
  await chat.open();
  const list = page.getByTestId('conversation');
  await chat.say('first topic !tokens=3 !tps=0');
  await expect(chat.assistant.last()).toHaveAttribute('data-status', 'done');
  await expect(list.first()).toContainText('first topic');

  await page.getByTestId('new-conversation').click();
  await expect(chat.messages).toHaveCount(0);
  await chat.say('second topic !tokens=3 !tps=0');
  await expect(chat.assistant.last()).toHaveAttribute('data-status', 'done');
  await expect(list).toHaveCount(2);
  await expect(list.nth(0)).toContainText('second topic');
  await expect(list.nth(0)).toHaveAttribute('data-current', 'true');

  // Switch back: the first conversation's messages.
  await list.nth(1).getByTestId('open-conversation').click();
  await expect(chat.user.locator('.text')).toHaveText(['first topic !tokens=3 !tps=0']);

  // Rename it; the name stays after a reload, as does the current one.
  await list.filter({ hasText: 'first topic' }).getByTestId('rename-conversation').click();
  await page.getByTestId('rename-input').fill('Renamed');
  await page.getByTestId('rename-input').press('Enter');
  await expect(list.filter({ hasText: 'Renamed' })).toHaveCount(1);
  await page.reload();
  await expect(list.filter({ hasText: 'Renamed' })).toHaveAttribute('data-current', 'true');
  await expect(chat.user.locator('.text')).toHaveText(['first topic !tokens=3 !tps=0']);

  // Delete, undo, delete for good.
  await list.filter({ hasText: 'Renamed' }).getByTestId('delete-conversation').click();
  await expect(list.filter({ hasText: 'Renamed' })).toHaveCount(0);
  await expect(chat.user.locator('.text')).toHaveText(['second topic !tokens=3 !tps=0']);
  await page.getByTestId('undo-delete').click();
  await expect(list.filter({ hasText: 'Renamed' })).toHaveAttribute('data-current', 'true');
  await expect(chat.messages).toHaveCount(2);
  await list.filter({ hasText: 'Renamed' }).getByTestId('delete-conversation').click();
  await page.reload();
  await expect(list).toHaveCount(1);
  await expect(list.first()).toContainText('second topic');
});

test('1,000 messages of 2 KB are kept in the browser across a reload', async ({ chat, page }) => {
  await chat.open();
  const body = 'The quick brown fox jumps over the lazy dog; '.repeat(45).slice(0, 2000);
  const messages = Array.from({ length: 1000 }, (_, i) => ({
    role: i % 2 ? 'assistant' : 'user',
    content: `#${i} ${body}`,
  }));
  await page.getByTestId('import-input').setInputFiles({
    name: 'big.json',
    mimeType: 'application/json',
    buffer: Buffer.from(JSON.stringify({ format: 'chatwire.conversation', version: 1, messages })),
  });
  await expect(chat.messages).toHaveCount(1000);
  await page.reload();
  await expect(chat.messages).toHaveCount(1000);
  await expect(page.getByTestId('storage-notice')).toHaveCount(0);
  expect(await rawText(chat.messages.last())).toBe(`#999 ${body}`);
});

test('storage that refuses writes shows a clear notice and chatting still works', async ({ chat, page }) => {
  await page.addInitScript(() => {
    Storage.prototype.setItem = function () {
      throw new DOMException('full', 'QuotaExceededError');
    };
  });
  await chat.open();
  await chat.say('still works !tokens=3 !tps=0');
  await expect(chat.assistant.last()).toHaveAttribute('data-status', 'done');
  await expect(page.getByTestId('storage-notice')).toContainText('not being saved');
  await expect(page.getByTestId('storage-notice')).toContainText('full');
  await chat.say('and again !tokens=3 !tps=0');
  await expect(chat.assistant).toHaveCount(2);
  await expect(chat.assistant.last()).toHaveAttribute('data-status', 'done');
});
