/**
 * End-to-end tests: the built renderer in Debian's Chromium against the real engine
 * behind `npm run serve` (its URL, with a fresh token, is read from the one line it
 * prints), plus the same flow in Electron where an Electron binary is installed.
 */
import { defineConfig } from '@playwright/test';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './paths';

// Evaluated in the runner and again in each worker; only the runner's copy starts the server.
const scratch = process.env.TILLER_E2E_SCRATCH ?? mkdtempSync(join(tmpdir(), 'tiller-e2e-'));
process.env.TILLER_E2E_SCRATCH = scratch;

export default defineConfig({
  testDir: '.',
  globalTeardown: './global-teardown.ts',
  outputDir: join(repoRoot, 'test-results'),
  timeout: 180_000,
  expect: { timeout: 30_000 },
  fullyParallel: false,
  workers: 1,
  reporter: [['list']],
  use: {
    viewport: { width: 1440, height: 900 },
    launchOptions: {
      executablePath: '/usr/bin/chromium',
      // No --headless here: Playwright adds it itself (TOOLCHAIN.md pitfall 15).
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    },
  },
  webServer: {
    command: `npm run serve -- --app-data ${join(scratch, 'app-data')} --cache-dir ${join(scratch, 'cache')}`,
    cwd: repoRoot,
    // serve prints exactly "Tiller engine: http://127.0.0.1:PORT/?token=TOKEN"; the group lands in process.env.TILLER_URL.
    wait: { stdout: /Tiller engine: (?<tiller_url>http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]+)/ },
    timeout: 120_000,
    stdout: 'ignore',
    stderr: 'pipe',
    gracefulShutdown: { signal: 'SIGTERM', timeout: 5_000 },
  },
});
