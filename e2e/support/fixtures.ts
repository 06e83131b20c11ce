import { test as base, expect, Page, Locator } from '@playwright/test';
import { Server } from './server';
import { Peer, Dialect } from './peer';

/** Page errors are uncaught exceptions, i.e. a wasm panic: never allowed. */
export interface Chat {
  page: Page;
  composer: Locator;
  send: Locator;
  stop: Locator;
  status: Locator;
  messages: Locator;
  assistant: Locator;
  user: Locator;
  /** Opens the app (optionally with a query string) and waits for `open`. */
  open(query?: string, waitOpen?: boolean): Promise<void>;
  /** Types a message and presses Enter. */
  say(text: string): Promise<void>;
}

/**
 * A message's exact text (markdown source, whitespace included), read
 * through its Copy action: the rendered DOM is not the source.
 */
export async function rawText(message: Locator): Promise<string> {
  const button = message.getByTestId('copy-message');
  await button.click();
  await expect(button).toHaveAttribute('data-state', 'copied');
  const text = await message.page().evaluate(() => navigator.clipboard.readText());
  // Let the button settle so the next copy is observable.
  await expect(button).not.toHaveAttribute('data-state', /.*/);
  return text;
}

/**
 * From the next page load on, notes what the page shows each time a chat
 * request leaves it: `"<messages> <last reply's data-status, or ->"`.
 * Returns a function that reads the notes.
 */
export async function noteAtSend(page: Page): Promise<() => Promise<string[]>> {
  await page.addInitScript(() => {
    const send = WebSocket.prototype.send;
    const w = window as unknown as { __atSend: string[] };
    w.__atSend = [];
    WebSocket.prototype.send = function (data) {
      if (typeof data === 'string' && data.includes('"type":"chat"')) {
        const replies = document.querySelectorAll('[data-testid="message"][data-role="assistant"]');
        const last = replies[replies.length - 1];
        w.__atSend.push(`${document.querySelectorAll('[data-testid="message"]').length} ${last?.getAttribute('data-status') ?? '-'}`);
      }
      return send.call(this, data);
    };
  });
  return () => page.evaluate(() => (window as unknown as { __atSend: string[] }).__atSend);
}

/**
 * Refuses every request for `url` (as a network failure) until
 * `release()` is called; `asked()` counts the requests, refused or not.
 * For a split module that cannot load, then can.
 */
export async function refuseUntilReleased(page: Page, url: RegExp) {
  let refused = true;
  let asked = 0;
  await page.route(url, (route) => {
    asked += 1;
    return refused ? route.abort('connectionrefused') : route.continue();
  });
  return { release: () => { refused = false; }, asked: () => asked };
}

export const test = base.extend<{
  server: Server;
  chat: Chat;
  pageErrors: string[];
  startPeer: (dialect: Dialect, env?: Record<string, string>) => Promise<Peer>;
}>({
  server: async ({}, use) => {
    const server = new Server();
    await server.start();
    await use(server);
    await server.kill();
  },
  startPeer: async ({}, use) => {
    const peers: Peer[] = [];
    await use(async (dialect, env = {}) => {
      const peer = new Peer(dialect, env);
      peers.push(peer);
      await peer.start();
      return peer;
    });
    await Promise.all(peers.map((p) => p.kill()));
  },
  pageErrors: async ({ page }, use) => {
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() !== 'error') return;
      const text = m.text();
      // Chromium logs refused WebSocket connections while a server is down;
      // that is the situation under test, not an app error.
      if (/WebSocket connection to .* failed/.test(text)) return;
      errors.push(`console.error: ${text}`);
    });
    await use(errors);
    expect(errors, 'no uncaught errors or console errors').toEqual([]);
  },
  chat: async ({ page, server, pageErrors }, use) => {
    void pageErrors;
    const messages = page.getByTestId('message');
    const chat: Chat = {
      page,
      composer: page.getByTestId('composer'),
      send: page.getByTestId('send'),
      stop: page.getByTestId('stop'),
      status: page.getByTestId('connection-status'),
      messages,
      assistant: page.locator('[data-testid="message"][data-role="assistant"]'),
      user: page.locator('[data-testid="message"][data-role="user"]'),
      async open(query = '', waitOpen = true) {
        await page.goto(`${server.url}/${query}`);
        if (waitOpen) await expect(chat.status).toHaveAttribute('data-state', 'open');
      },
      async say(text: string) {
        await chat.composer.fill(text);
        await chat.composer.press('Enter');
      },
    };
    await use(chat);
  },
});

export { expect };
