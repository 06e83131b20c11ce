// The product around the chat: runtime configuration (config.json and URL
// overrides), themes, iframe embedding, narrow screens.
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { AddressInfo } from 'node:net';
import { test as base, expect, Page } from '@playwright/test';
import { Server } from '../support/server';
import { Peer } from '../support/peer';

/** Temporary config directories, removed when this file's tests end. */
const configDirs: string[] = [];

/** A companion server serving `config` as /config.json (none if null). */
async function serverWith(config: unknown, extra: string[] = []): Promise<Server> {
  const args = ['--engine', 'scripted', ...extra];
  if (config !== null) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatwire-config-'));
    configDirs.push(dir);
    const file = path.join(dir, 'config.json');
    fs.writeFileSync(file, typeof config === 'string' ? config : JSON.stringify(config));
    args.push('--app-config', file);
  }
  const server = new Server(args);
  await server.start();
  return server;
}

const test = base.extend<{ servers: Server[]; pageErrors: string[] }>({
  servers: async ({}, use) => {
    const list: Server[] = [];
    await use(list);
    await Promise.all(list.map((s) => s.kill()));
  },
  pageErrors: async ({ page }, use) => {
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await use(errors);
    expect(errors).toEqual([]);
  },
});

test.afterAll(() => {
  for (const dir of configDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

async function say(page: Page, text: string) {
  await page.getByTestId('composer').fill(text);
  await page.getByTestId('composer').press('Enter');
}

const lastReply = (page: Page) => page.locator('[data-testid="message"][data-role="assistant"]').last();

test('config.json sets title, theme, parameter defaults and ranges; the URL overrides it', async ({ page, browser, servers, pageErrors }) => {
  void pageErrors;
  const server = await serverWith({
    title: 'Team chat',
    logo: 'TC',
    theme: 'dark',
    lang: 'en',
    params: { temperature: { default: 0.3, min: 0, max: 1 }, max_tokens: 64 },
  });
  servers.push(server);
  await page.goto(server.url + '/');
  await expect(page.getByTestId('connection-status')).toHaveAttribute('data-state', 'open');
  await expect(page.getByTestId('app-title')).toHaveText('TCTeam chat');
  await expect(page.getByTestId('app-logo')).toHaveText('TC');
  await expect(page).toHaveTitle('Team chat');
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'dark');
  const temperature = page.getByTestId('temperature');
  await expect(temperature).toHaveValue('0.3');
  await expect(temperature).toHaveAttribute('max', '1');
  await expect(page.getByTestId('max-tokens')).toHaveValue('64');
  await expect(page.getByTestId('config-error')).toHaveCount(0);

  // The configured range is enforced.
  await temperature.fill('1.5');
  await expect(page.getByTestId('temperature-error')).toHaveText('Must be between 0 and 1');
  await page.getByTestId('composer').fill('hello');
  await expect(page.getByTestId('send')).toBeDisabled();
  await temperature.fill('0.3');
  await page.getByTestId('composer').press('Enter');
  await expect(lastReply(page)).toHaveAttribute('data-status', 'done');
  const [reply] = await server.replies();
  expect(reply.request.params.temperature).toBeCloseTo(0.3, 5);
  expect(reply.request.params.max_tokens).toBe(64);

  // URL parameters win (a fresh browser: nothing stored yet).
  const context = await browser.newContext();
  const other = await context.newPage();
  await other.goto(server.url + '/?title=Other&theme=light&temperature=0.9');
  await expect(other.getByTestId('connection-status')).toHaveAttribute('data-state', 'open');
  await expect(other.getByTestId('app-title')).toHaveText('TCOther');
  await expect(other.locator('html')).toHaveAttribute('data-theme', 'light');
  await expect(other.getByTestId('temperature')).toHaveValue('0.9');
  await context.close();
});

test('an invalid config.json names the field; the app starts with defaults and chats', async ({ page, servers, pageErrors }) => {
  void pageErrors;
  const server = await serverWith({ theme: 'pink', tittle: 'typo', params: { temperature: { min: 1, max: 9 } } });
  servers.push(server);
  await page.goto(server.url + '/');
  await expect(page.getByTestId('connection-status')).toHaveAttribute('data-state', 'open');
  const errors = page.getByTestId('config-error');
  await expect(errors).toContainText('config.json, `theme` = pink: one of auto, light, dark');
  await expect(errors).toContainText('config.json, `tittle`: unknown field');
  await expect(errors).toContainText('config.json, `params.temperature`');
  await expect(page.getByTestId('temperature')).toHaveValue('0.7');
  await expect(page.getByTestId('temperature')).toHaveAttribute('max', '2');
  await expect(page.getByTestId('app-title')).toHaveText('chatwire');
  await say(page, 'still works');
  await expect(lastReply(page)).toHaveAttribute('data-status', 'done');

  // Not JSON at all: said so, defaults used.
  const broken = await serverWith('{ "title": ');
  servers.push(broken);
  await page.goto(broken.url + '/');
  await expect(page.getByTestId('config-error')).toContainText('config.json: not valid JSON');
  await expect(page.getByTestId('connection-status')).toHaveAttribute('data-state', 'open');
});

test('themes: follow the system, or the configured one', async ({ page, servers }) => {
  const server = await serverWith(null);
  servers.push(server);
  const background = () => page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.goto(server.url + '/');
  await expect(page.getByTestId('connection-status')).toHaveAttribute('data-state', 'open');
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'auto');
  expect(await background()).toBe('rgb(22, 23, 26)');
  await page.emulateMedia({ colorScheme: 'light' });
  await expect.poll(background).toBe('rgb(247, 247, 248)');
  await page.goto(server.url + '/?theme=dark');
  await expect.poll(background).toBe('rgb(22, 23, 26)');
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.goto(server.url + '/?theme=light');
  await expect.poll(background).toBe('rgb(247, 247, 248)');
});

/** A host page on another origin (its own port) embedding the app. */
async function hostPage(appUrl: string): Promise<{ url: string; close: () => Promise<void> }> {
  const html = `<!DOCTYPE html><html><head><meta charset="utf-8"><title>wiki</title></head>
<body style="margin:0">
<input id="host-input" placeholder="wiki search">
<div style="height:300px">Wiki text above the chat.</div>
<iframe id="chat" src="${appUrl}" width="320" height="480" style="border:1px solid #ccc"
  sandbox="allow-scripts allow-same-origin"></iframe>
<div style="height:3000px">Wiki text below the chat.</div>
</body></html>`;
  const srv = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(html);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/`, close: () => new Promise((r) => srv.close(() => r())) };
}

test('embed=1 in a sandboxed iframe on another origin: chat works, the host never scrolls or loses focus', async ({ page, servers }) => {
  const server = await serverWith(null, ['--frame-ancestor', 'http://127.0.0.1:*']);
  servers.push(server);
  const host = await hostPage(`${server.url}/?embed=1`);
  try {
    // The whole frame is in view: any scrolling of the host is the app's
    // doing (not Playwright bringing an element into view).
    await page.setViewportSize({ width: 900, height: 900 });
    await page.goto(host.url);
    await page.locator('#host-input').focus();
    await page.evaluate(() => {
      (window as any).maxScroll = 0;
      window.addEventListener('scroll', () => {
        (window as any).maxScroll = Math.max((window as any).maxScroll, window.scrollY);
      });
    });
    const app = page.frameLocator('#chat');
    await expect(app.getByTestId('connection-status')).toHaveAttribute('data-state', 'open');
    // The host keeps its focus while the app starts.
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('host-input');
    // Compact: no sidebar, settings behind a button.
    await expect(app.getByTestId('conversations')).toHaveCount(0);
    await expect(app.getByTestId('settings')).toBeHidden();
    await app.getByTestId('settings-toggle').click();
    await expect(app.getByTestId('settings')).toBeVisible();
    await expect(app.getByTestId('temperature')).toBeVisible();
    await app.getByTestId('settings-toggle').click();
    await expect(app.getByTestId('settings')).toBeHidden();
    // Transparent over the host.
    const bg = await app.locator('body').evaluate((b) => getComputedStyle(b).backgroundColor);
    expect(bg).toBe('rgba(0, 0, 0, 0)');

    // A long reply streams inside the frame; the host page stays put.
    await app.getByTestId('composer').fill('long !tokens=400 !tps=400');
    await app.getByTestId('composer').press('Enter');
    const reply = app.locator('[data-testid="message"][data-role="assistant"]').last();
    await expect(reply).toHaveAttribute('data-status', 'done');
    // The transcript followed the stream inside the frame.
    await expect.poll(() => app.getByTestId('transcript').evaluate(
      (t) => t.scrollHeight > t.clientHeight && t.scrollTop + t.clientHeight >= t.scrollHeight - 2,
    )).toBe(true);
    expect(await page.evaluate(() => [window.scrollY, (window as any).maxScroll])).toEqual([0, 0]);
    // Fits the 320 px frame: nothing wider than it.
    const overflow = await app.locator('html').evaluate((h) => h.scrollWidth - h.clientWidth);
    expect(overflow).toBe(0);
  } finally {
    await host.close();
  }
});

test('a 360 px phone screen: everything fits, send and stop reachable, conversations and settings behind buttons', async ({ page, servers }) => {
  const server = await serverWith(null);
  servers.push(server);
  await page.setViewportSize({ width: 360, height: 740 });
  await page.goto(server.url + '/');
  await expect(page.getByTestId('connection-status')).toHaveAttribute('data-state', 'open');
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
  for (const id of ['composer', 'send', 'stop']) {
    const box = await page.getByTestId(id).boundingBox();
    expect(box, id).not.toBeNull();
    expect(box!.x).toBeGreaterThanOrEqual(0);
    expect(box!.x + box!.width).toBeLessThanOrEqual(360);
    expect(box!.y + box!.height).toBeLessThanOrEqual(740);
  }
  await say(page, 'hi from a phone');
  await expect(lastReply(page)).toHaveAttribute('data-status', 'done');

  // The conversations and the settings open from the header, over the chat.
  await expect(page.getByTestId('conversations')).toBeHidden();
  await expect(page.getByTestId('settings')).toBeHidden();
  await page.getByTestId('conversations-toggle').click();
  await expect(page.getByTestId('conversations')).toBeVisible();
  await expect(page.getByTestId('conversation')).toHaveCount(1);
  await page.getByTestId('new-conversation').click();
  // Picking closes the panel.
  await expect(page.getByTestId('conversations')).toBeHidden();
  await expect(page.getByTestId('message')).toHaveCount(0);
  await page.getByTestId('settings-toggle').click();
  await expect(page.getByTestId('temperature')).toBeVisible();
  await expect(page.getByTestId('settings-toggle')).toHaveAttribute('aria-expanded', 'true');
  const panel = await page.getByTestId('settings').boundingBox();
  expect(panel!.x + panel!.width).toBeLessThanOrEqual(360);
  await page.getByTestId('settings-toggle').click();
  await expect(page.getByTestId('settings')).toBeHidden();
  // Wide again: both are columns, the buttons gone.
  await page.setViewportSize({ width: 1100, height: 740 });
  await expect(page.getByTestId('conversations')).toBeVisible();
  await expect(page.getByTestId('settings')).toBeVisible();
  await expect(page.getByTestId('settings-toggle')).toBeHidden();
});

test('Chinese: from the browser language or lang=zh, every visible string; lang=en overrides', async ({ browser, servers }) => {
  const server = await serverWith(null);
  servers.push(server);
  const context = await browser.newContext({ locale: 'zh-CN' });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(server.url + '/');
  await expect(page.getByTestId('connection-status')).toHaveAttribute('data-state', 'open');
  await expect(page.locator('html')).toHaveAttribute('lang', 'zh');
  await expect(page.getByTestId('connection-status')).toHaveText('已连接');
  await expect(page.getByTestId('send')).toHaveText('发送');
  await expect(page.getByTestId('stop')).toHaveText('停止');
  await expect(page.getByTestId('new-conversation')).toHaveText('+ 新会话');
  await expect(page.getByTestId('composer')).toHaveAttribute('placeholder', '输入消息（Enter 发送，Shift+Enter 换行）');
  await expect(page.locator('.params h2')).toHaveText('参数');
  await expect(page.getByTestId('send-blocked')).toHaveText('请输入消息');
  await page.getByTestId('temperature').fill('3');
  await expect(page.getByTestId('temperature-error')).toHaveText('须为 0 到 2 之间的数');
  await page.getByTestId('temperature').fill('0.7');
  await page.getByTestId('composer').fill('你好 !tokens=6 !tps=0');
  await page.getByTestId('composer').press('Enter');
  const reply = page.locator('[data-testid="message"][data-role="assistant"]').last();
  await expect(reply).toHaveAttribute('data-status', 'done');
  await expect(reply.getByTestId('copy-message')).toHaveText('复制');
  await expect(reply.getByTestId('regenerate-reply')).toHaveText('重新生成');
  await expect(reply.getByTestId('reply-metrics')).toContainText('已完成');
  // No English left in the chrome around the chat (user and model text,
  // and model names from the server, aside).
  const chrome = await page.evaluate(() => {
    const clone = document.body.cloneNode(true) as HTMLElement;
    clone.querySelectorAll('.bubble, .conversation, code, .code-lang, .backend-protocol code, .msg-metrics, select').forEach((e) => e.remove());
    return clone.innerText;
  });
  const english = chrome.match(/\b[A-Za-z]{4,}\b/g) ?? [];
  // Allowed: product, protocol and file-format names.
  expect(english.filter((w) => !['chatwire', 'native', 'token', 'tokens', 'max_tokens', 'JSON', 'Markdown'].includes(w))).toEqual([]);

  // lang=en wins over the browser.
  await page.goto(server.url + '/?lang=en');
  await expect(page.getByTestId('send')).toHaveText('Send');
  expect(errors).toEqual([]);
  await context.close();
});

test('IME: the Enter that confirms a composition does not send', async ({ page, servers }) => {
  const server = await serverWith(null);
  servers.push(server);
  await page.goto(server.url + '/?lang=zh');
  await expect(page.getByTestId('connection-status')).toHaveAttribute('data-state', 'open');
  const composer = page.getByTestId('composer');
  await composer.focus();
  const cdp = await page.context().newCDPSession(page);
  // Typing "nihao" with a pinyin IME: a composition is under way…
  await cdp.send('Input.imeSetComposition', { text: 'nihao', selectionStart: 5, selectionEnd: 5 });
  await expect(composer).toHaveValue('nihao');
  // …and Enter picks the candidate: Chrome sends it as a keydown with
  // isComposing set (keyCode 229).
  const sentOnEnter = await composer.evaluate((el) => {
    const ev = new KeyboardEvent('keydown', { key: 'Enter', code: 'Enter', isComposing: true, keyCode: 229, bubbles: true, cancelable: true });
    el.dispatchEvent(ev);
    return ev.defaultPrevented;
  });
  expect(sentOnEnter).toBe(false);
  await cdp.send('Input.insertText', { text: '你好' });
  await expect(composer).toHaveValue('你好');
  await expect(page.getByTestId('message')).toHaveCount(0);
  // A plain Enter afterwards sends.
  await composer.press('Enter');
  await expect(page.locator('[data-testid="message"][data-role="user"] .text')).toHaveText(['你好']);
});

test('settings: the server\'s model list, a system prompt, kept across reloads', async ({ page, servers, pageErrors }) => {
  void pageErrors;
  const server = await serverWith(null);
  servers.push(server);
  await page.goto(server.url + '/');
  await expect(page.getByTestId('connection-status')).toHaveAttribute('data-state', 'open');
  // native: the models come from the server's welcome.
  const model = page.getByTestId('model');
  await expect(model.locator('option')).toHaveText(['scripted']);
  await expect(model).toHaveValue('scripted');
  await page.getByTestId('system-prompt').fill('Answer in one line.');
  await page.getByTestId('top-p').fill('0.5');
  await say(page, 'hello !tokens=3 !tps=0');
  await expect(lastReply(page)).toHaveAttribute('data-status', 'done');
  const [reply] = await server.replies();
  expect(reply.request.messages[0]).toEqual({ role: 'system', content: 'Answer in one line.' });
  expect(reply.request.messages[1]).toEqual({ role: 'user', content: 'hello !tokens=3 !tps=0' });
  expect(reply.request.params.top_p).toBeCloseTo(0.5, 5);
  expect(reply.model).toBe('scripted');

  await page.reload();
  await expect(page.getByTestId('connection-status')).toHaveAttribute('data-state', 'open');
  await expect(page.getByTestId('system-prompt')).toHaveValue('Answer in one line.');
  await expect(page.getByTestId('top-p')).toHaveValue('0.5');
  await expect(page.getByTestId('model')).toHaveValue('scripted');
});

test('a backend behind a token: given in the URL query or as the WebSocket subprotocol', async ({ page, servers }) => {
  const peer = new Peer('qwen', { CHATWIRE_PEER_TOKEN: 's3cret-tok' });
  await peer.start();
  try {
    // From the URL (?token=), sent in the socket's query.
    const plain = await serverWith(null);
    servers.push(plain);
    const q = (extra: string) => `/?protocol=qwen&backend=${encodeURIComponent(peer.ws + '/ws')}${extra}`;
    await page.goto(plain.url + q('&token=s3cret-tok'));
    await expect(page.getByTestId('connection-status')).toHaveAttribute('data-state', 'open');
    await say(page, 'hi');
    await expect(lastReply(page)).toHaveAttribute('data-status', 'done');
    let rec = await peer.record();
    expect(rec.connections.at(-1)).toEqual({ path: '/ws', token_via: 'query' });

    // A wrong token is refused: the app keeps retrying and never opens.
    await page.goto(plain.url + q('&token=wrong'));
    await expect(page.getByTestId('connection-status')).toHaveAttribute('data-state', 'reconnecting');
    await expect.poll(async () => (await peer.record()).connections.filter((c: any) => c.refused).length).toBeGreaterThan(0);

    // From config.json, as the subprotocol.
    const configured = await serverWith({
      protocol: 'qwen',
      backend: peer.ws + '/ws',
      auth: { token: 's3cret-tok', via: 'subprotocol' },
    });
    servers.push(configured);
    await page.goto(configured.url + '/');
    await expect(page.getByTestId('connection-status')).toHaveAttribute('data-state', 'open');
    rec = await peer.record();
    expect(rec.connections.at(-1)).toEqual({ path: '/ws', token_via: 'subprotocol' });
  } finally {
    await peer.kill();
  }
});

test('config.json that fails or hangs: said so, and the app starts with defaults', async ({ page, servers, pageErrors }) => {
  void pageErrors;
  // The server cannot read the file it was told to serve: HTTP 500.
  const server = new Server(['--engine', 'scripted', '--app-config', '/nonexistent/config.json']);
  await server.start();
  servers.push(server);
  await page.goto(server.url + '/');
  await expect(page.getByTestId('config-error')).toContainText('config.json: could not be read (HTTP 500); using the defaults');
  await expect(page.getByTestId('connection-status')).toHaveAttribute('data-state', 'open');

  // A host that never answers for it (simulated: the request is held):
  // the app waits 3 s, then starts without it.
  await page.route('**/config.json', () => {});
  await page.goto(server.url + '/');
  await expect(page.getByTestId('config-error')).toContainText('no answer within 3 s');
  await expect(page.getByTestId('connection-status')).toHaveAttribute('data-state', 'open');
  await say(page, 'still here !tokens=2 !tps=0');
  await expect(lastReply(page)).toHaveAttribute('data-status', 'done');
});
