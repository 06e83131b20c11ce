// The companion server's embedded engine: a real language model
// (SmolLM2-135M-Instruct on the CPU) behind the native protocol.
import { test as base, expect, rawText } from '../support/fixtures';
import { Server } from '../support/server';
import * as path from 'node:path';

const MODEL = process.env.CHATWIRE_MODEL ?? path.resolve(__dirname, '../../.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf');

const test = base.extend<{ server: Server }>({
  server: async ({}, use) => {
    const server = new Server(['--engine', 'embedded', '--model', MODEL]);
    await server.start();
    await use(server);
    await server.kill();
  },
});

test('a real model answers (greedy)', async ({ chat, page, server }) => {
  await chat.open();
  await page.getByTestId('temperature').fill('0');
  await page.getByTestId('max-tokens').fill('60');
  await chat.say('How many days are in a week?');
  const reply = chat.assistant.last();
  await expect(reply).toHaveAttribute('data-status', 'done', { timeout: 60_000 });
  const record = await server.lastReply();
  expect(record!.model).toContain('SmolLM2');
  expect(record!.finish_reason).toBe('stop');
  expect(record!.request.params.temperature).toBe(0);
  const text = await rawText(reply);
  expect(text).toBe(record!.text);
  expect(text).toContain('7');
});

test('Stop cancels the model mid-reply', async ({ chat, page, server }) => {
  await chat.open();
  await page.getByTestId('max-tokens').fill('2000');
  await chat.say('Write a very long story about a dragon who learns to cook.');
  const reply = chat.assistant.last();
  await expect(reply.locator('.text')).not.toBeEmpty({ timeout: 30_000 });
  await chat.stop.click();
  await expect(reply).toHaveAttribute('data-status', 'stopped');
  await expect.poll(async () => (await server.lastReply())?.finish_reason).toBe('cancelled');
  expect((await server.lastReply())!.tokens_sent).toBeLessThan(2000);
});
