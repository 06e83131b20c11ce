import { defineConfig } from '@playwright/test';

// Debian's Chromium (no browser download on this machine); flags from
// ../shared/TOOLCHAIN.md: without the background-networking ones Chromium
// floods the closed network with refused connections.
export default defineConfig({
  testDir: './tests',
  timeout: 45_000,
  expect: { timeout: 10_000 },
  fullyParallel: true,
  workers: 2,
  retries: 0,
  forbidOnly: true,
  reporter: [['list'], ['json', { outputFile: 'test-results/results.json' }]],
  use: {
    browserName: 'chromium',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
    trace: 'retain-on-failure',
    // Copy buttons are checked by reading the clipboard back.
    permissions: ['clipboard-read', 'clipboard-write'],
  },
});
