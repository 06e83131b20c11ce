// The views the README shows: light, dark, Chinese, embedded. Each test
// checks the view it shoots; with CHATWIRE_SCREENSHOTS_DIR set the
// pictures land there (docs/screenshots: `CHATWIRE_SCREENSHOTS_DIR=$PWD/../docs/screenshots
// npx playwright test screenshots` from e2e/, after `cargo xtask build`),
// otherwise in the test's output directory. Chinese needs a CJK font
// (Debian: fonts-wqy-microhei).
import * as path from 'node:path';
import { test as base, expect, Page, TestInfo } from '@playwright/test';
import { Server } from '../support/server';

// The same code in both languages.
const CODE = [
  '```python',
  'with open("data.txt", encoding="utf-8") as f:',
  '    for number, line in enumerate(f, start=1):',
  '        print(number, line.rstrip("\\n"))',
  '```',
];

const EN = {
  question: 'How do I read a file line by line in Python?',
  answer: [
    'Iterate over the file object: it yields one line at a time, so even a **huge file** never has to fit in memory.',
    '',
    ...CODE,
    '',
    '- `with` closes the file, even on an error;',
    '- `rstrip("\\n")` drops the line ending;',
    '- pass `errors="replace"` if the file may hold invalid UTF-8.',
  ].join('\n'),
};

const ZH = {
  question: '用 Python 怎样逐行读取文件？',
  answer: [
    '直接遍历文件对象即可：它每次产生一行，**再大的文件**也不必整个装进内存。',
    '',
    ...CODE,
    '',
    '- `with` 保证文件被关闭，出错时也一样；',
    '- `rstrip("\\n")` 去掉行尾换行符。',
  ].join('\n'),
};

const test = base.extend<{ servers: Server[] }>({
  servers: async ({}, use) => {
    const list: Server[] = [];
    await use(list);
    await Promise.all(list.map((s) => s.kill()));
  },
});

async function shoot(page: Page, servers: Server[], text: typeof EN, query: string) {
  const server = new Server(['--engine', 'scripted', '--scripted-reply', text.answer, '--scripted-tps', '0']);
  await server.start();
  servers.push(server);
  await page.goto(`${server.url}/${query}`);
  await expect(page.getByTestId('connection-status')).toHaveAttribute('data-state', 'open');
  await page.getByTestId('composer').fill(text.question);
  await page.getByTestId('composer').press('Enter');
  await expect(page.locator('[data-testid="message"][data-role="assistant"]').last()).toHaveAttribute('data-status', 'done');
  await expect(page.locator('.code-block')).toHaveCount(1);
  // Saved, so the sidebar shows the conversation's title.
  if (!query.includes('embed')) await expect(page.getByTestId('conversation').first()).toContainText(text.question.slice(0, 8));
  await page.getByTestId('composer').blur();
}

function target(info: TestInfo, name: string): string {
  const dir = process.env.CHATWIRE_SCREENSHOTS_DIR;
  return dir ? path.join(dir, name) : info.outputPath(name);
}

test.use({ viewport: { width: 1100, height: 640 } });

test('light', async ({ page, servers }, info) => {
  await page.emulateMedia({ colorScheme: 'light' });
  await shoot(page, servers, EN, '');
  expect(await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor)).toBe('rgb(247, 247, 248)');
  await page.screenshot({ path: target(info, 'light.png') });
});

test('dark', async ({ page, servers }, info) => {
  await shoot(page, servers, EN, '?theme=dark');
  expect(await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor)).toBe('rgb(22, 23, 26)');
  await page.screenshot({ path: target(info, 'dark.png') });
});

test('zh', async ({ page, servers }, info) => {
  await page.emulateMedia({ colorScheme: 'light' });
  await shoot(page, servers, ZH, '?lang=zh&title=' + encodeURIComponent('聊天吧'));
  await expect(page.getByTestId('send')).toHaveText('发送');
  await page.screenshot({ path: target(info, 'zh.png') });
});

test('embedded', async ({ page, servers }, info) => {
  await page.emulateMedia({ colorScheme: 'light' });
  await page.setViewportSize({ width: 380, height: 640 });
  await shoot(page, servers, EN, '?embed=1&title=' + encodeURIComponent('Team assistant'));
  await expect(page.getByTestId('conversations')).toHaveCount(0);
  await page.screenshot({ path: target(info, 'embedded.png') });
});
