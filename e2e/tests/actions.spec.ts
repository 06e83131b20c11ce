// Message actions: regenerate, edit and resend, delete a turn, export
// (JSON and Markdown) and import back.
import * as fs from 'node:fs';
import { test, expect, rawText } from '../support/fixtures';

test('regenerate asks again for the last reply and replaces it', async ({ chat, page, server }) => {
  await chat.open();
  await chat.say('first question !tokens=5 !tps=0');
  await expect(chat.assistant.last()).toHaveAttribute('data-status', 'done');
  await chat.say('second question !tokens=5 !tps=0');
  await expect(chat.assistant.last()).toHaveAttribute('data-status', 'done');
  // Only the last reply offers it.
  await expect(page.getByTestId('regenerate-reply')).toHaveCount(1);
  await expect(chat.assistant.last().getByTestId('regenerate-reply')).toHaveCount(1);
  await chat.messages.last().hover();
  await page.getByTestId('regenerate-reply').click();
  await expect(chat.assistant.last()).toHaveAttribute('data-status', 'done');
  await expect(chat.messages).toHaveCount(4);
  const replies = await server.replies();
  expect(replies).toHaveLength(3);
  // The same turn went again, with the same history.
  expect(replies[2].request.messages).toEqual(replies[1].request.messages);
  expect(await rawText(chat.assistant.last())).toBe(replies[2].text);
});

test('edit a sent message and resend: the replies after it are replaced', async ({ chat, page, server }) => {
  await chat.open();
  await chat.say('one !tokens=4 !tps=0');
  await expect(chat.assistant.last()).toHaveAttribute('data-status', 'done');
  await chat.say('two !tokens=4 !tps=0');
  await expect(chat.assistant.last()).toHaveAttribute('data-status', 'done');
  await chat.say('three !tokens=4 !tps=0');
  await expect(chat.assistant.last()).toHaveAttribute('data-status', 'done');

  const second = chat.user.nth(1);
  await second.hover();
  await second.getByTestId('edit-message').click();
  const input = second.getByTestId('edit-input');
  await expect(input).toHaveValue('two !tokens=4 !tps=0');
  // Cancel leaves everything as it was.
  await second.getByTestId('edit-cancel').click();
  await expect(second.getByTestId('edit-input')).toHaveCount(0);
  await expect(chat.messages).toHaveCount(6);

  await second.getByTestId('edit-message').click();
  await input.fill('two, edited !tokens=6 !tps=0');
  await input.press('Enter');
  await expect(chat.assistant.last()).toHaveAttribute('data-status', 'done');
  await expect(chat.messages).toHaveCount(4);
  await expect(chat.user.locator('.text')).toHaveText(['one !tokens=4 !tps=0', 'two, edited !tokens=6 !tps=0']);
  const replies = await server.replies();
  const last = replies[replies.length - 1];
  expect(last.request.messages.map((m) => m.content)).toEqual([
    'one !tokens=4 !tps=0',
    replies[0].text,
    'two, edited !tokens=6 !tps=0',
  ]);
  expect(await rawText(chat.assistant.last())).toBe(last.text);
  // Kept that way across a reload (the replaced messages are gone from storage).
  await page.reload();
  await expect(chat.messages).toHaveCount(4);
  await expect(chat.user.locator('.text')).toHaveText(['one !tokens=4 !tps=0', 'two, edited !tokens=6 !tps=0']);
});

test('delete a turn: the question and its reply go, here and in storage', async ({ chat, page, server }) => {
  await chat.open();
  await chat.say('keep me !tokens=3 !tps=0');
  await expect(chat.assistant.last()).toHaveAttribute('data-status', 'done');
  await chat.say('drop me !tokens=3 !tps=0');
  await expect(chat.assistant.last()).toHaveAttribute('data-status', 'done');
  await chat.user.nth(1).hover();
  await chat.user.nth(1).getByTestId('delete-turn').click();
  await expect(chat.messages).toHaveCount(2);
  await expect(chat.user.locator('.text')).toHaveText(['keep me !tokens=3 !tps=0']);
  // The reply left is the last one now, and offers Regenerate.
  await expect(chat.assistant.last().getByTestId('regenerate-reply')).toHaveCount(1);
  await page.reload();
  await expect(chat.messages).toHaveCount(2);
  // The next turn's history leaves the deleted turn out.
  await expect(chat.status).toHaveAttribute('data-state', 'open');
  await chat.say('next !tokens=3 !tps=0');
  await expect(chat.assistant.last()).toHaveAttribute('data-status', 'done');
  const replies = await server.replies();
  expect(replies[replies.length - 1].request.messages.map((m) => m.content)).toEqual([
    'keep me !tokens=3 !tps=0',
    replies[0].text,
    'next !tokens=3 !tps=0',
  ]);
});

test('export as Markdown and JSON; the JSON imports back as the same conversation', async ({ chat, page }) => {
  await chat.open();
  await chat.say('Python help: sort a list !tokens=8 !tps=0');
  await expect(chat.assistant.last()).toHaveAttribute('data-status', 'done');
  await chat.say('and reverse it? !tokens=8 !tps=0');
  await expect(chat.assistant.last()).toHaveAttribute('data-status', 'done');
  const replies = [await rawText(chat.assistant.nth(0)), await rawText(chat.assistant.nth(1))];
  // The title comes from the first message once it is saved.
  await expect(page.getByTestId('conversation').first()).toContainText('Python help');

  const [md] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-markdown').click()]);
  expect(md.suggestedFilename()).toBe('python-help-sort-a-list-tokens-8-tps-0.md');
  const markdown = fs.readFileSync((await md.path())!, 'utf8');
  expect(markdown).toBe(
    '# Python help: sort a list !tokens=8 !tps=0\n' +
      '\n## You\n\nPython help: sort a list !tokens=8 !tps=0\n' +
      `\n## Assistant\n\n${replies[0].trimEnd()}\n` +
      '\n## You\n\nand reverse it? !tokens=8 !tps=0\n' +
      `\n## Assistant\n\n${replies[1].trimEnd()}\n`,
  );

  const [json] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-json').click()]);
  expect(json.suggestedFilename()).toBe('python-help-sort-a-list-tokens-8-tps-0.json');
  const file = fs.readFileSync((await json.path())!, 'utf8');
  expect(JSON.parse(file)).toEqual({
    format: 'chatwire.conversation',
    version: 1,
    messages: [
      { role: 'user', content: 'Python help: sort a list !tokens=8 !tps=0' },
      { role: 'assistant', content: replies[0] },
      { role: 'user', content: 'and reverse it? !tokens=8 !tps=0' },
      { role: 'assistant', content: replies[1] },
    ],
  });

  await page.getByTestId('import-input').setInputFiles({ name: 'back.json', mimeType: 'application/json', buffer: Buffer.from(file) });
  // A new conversation, the same messages.
  await expect(page.getByTestId('conversation')).toHaveCount(2);
  await expect(chat.messages).toHaveCount(4);
  expect(await rawText(chat.assistant.nth(0))).toBe(replies[0]);
  expect(await rawText(chat.assistant.nth(1))).toBe(replies[1]);
  await expect(chat.user.locator('.text')).toHaveText(['Python help: sort a list !tokens=8 !tps=0', 'and reverse it? !tokens=8 !tps=0']);
});

test('each reply shows its figures: first-token time, speed, token counts, finish reason', async ({ chat, page, server }) => {
  await chat.open();
  await chat.say('measure me !tokens=20 !tps=50');
  const reply = chat.assistant.last();
  await expect(reply).toHaveAttribute('data-status', 'done');
  const metrics = reply.getByTestId('reply-metrics');
  await expect(metrics).toHaveAttribute('data-finish', 'complete');
  const [record] = await server.replies();
  await expect(metrics).toHaveAttribute('data-tokens', String(record.tokens_sent));
  await expect(metrics).toHaveAttribute('data-prompt-tokens', /^[1-9]\d*$/);
  const ttft = Number(await metrics.getAttribute('data-ttft-ms'));
  expect(ttft).toBeGreaterThanOrEqual(0);
  // The figures' exact values depend on timing (not asserted); their form does not.
  await expect(metrics).toContainText(/^first token \d+\.\d\d s · \d+\.\d tok\/s · 20 tokens \(prompt \d+\) · complete$/);

  // The settings it was asked with are kept with it (shown on hover).
  await expect(metrics).toHaveAttribute('title', 'model scripted · temperature 0.7 · top_p 0.9 · max_tokens 512');
  // Cut short by max_tokens: the finish reason says so.
  await page.getByTestId('max-tokens').fill('5');
  await chat.say('longer !tokens=50 !tps=0');
  await expect(chat.assistant.last()).toHaveAttribute('data-status', 'done');
  await expect(chat.assistant.last().getByTestId('reply-metrics')).toHaveAttribute('data-finish', 'length');
  await expect(chat.assistant.last().getByTestId('reply-metrics')).toHaveAttribute('data-tokens', '5');
  // Kept with the conversation.
  await page.reload();
  await expect(chat.assistant.first().getByTestId('reply-metrics')).toHaveAttribute('data-tokens', '20');
});
