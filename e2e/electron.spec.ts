/**
 * The same flow in the Electron app (IPC transport, engine in a utility process). Native
 * file dialogs are answered from the main process. Skipped where no Electron binary is
 * installed; detecting it never require()s 'electron' (that would start a download).
 */
import { _electron as electron, expect, test } from '@playwright/test';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { addSteeringVariant, columnTokens, columns, generate, loadModel, variantNames, watchConsole } from './flow';
import { electronBinary, repoRoot, storiesModel, storiesModelMissing } from './paths';

const binary = electronBinary();

test.skip(binary === null, 'no Electron binary: set ELECTRON_EXEC_PATH, or install one so node_modules/electron/path.txt names a file in node_modules/electron/dist');
test.skip(storiesModelMissing !== null, storiesModelMissing ?? '');

test('steer, compare, save, reopen and re-run in Electron', async ({}, testInfo) => {
  const appData = mkdtempSync(join(tmpdir(), 'tiller-electron-'));
  const app = await electron.launch({
    executablePath: binary as string,
    args: [resolve(repoRoot, 'out/main/main.js')],
    cwd: repoRoot,
    env: { ...process.env, TILLER_APP_DATA: appData, TILLER_CACHE_DIR: join(appData, 'cache') } as Record<string, string>,
  });
  try {
    const page = await app.firstWindow();
    const errors = watchConsole(page);
    await expect(page.getByRole('status', { name: 'Engine idle' })).toBeVisible({ timeout: 60_000 });
    await expect(page.getByText('IPC')).toBeVisible();

    await loadModel(page, storiesModel);
    await addSteeringVariant(page, { name: 'Steer “do”', token: 'do', layer: 2, scale: 2 });
    await generate(page, 2);
    const first = await columnTokens(page);
    expect(first[1].join('')).not.toBe(first[0].join(''));
    expect(await columns(page).nth(1).locator('[data-diff="true"]').count()).toBeGreaterThan(0);
    await page.screenshot({ path: testInfo.outputPath('electron-compare-view.png') });

    // The native dialogs answer with our file.
    const file = testInfo.outputPath('steering.tiller.json');
    await app.evaluate(({ dialog }, path) => {
      dialog.showSaveDialog = (async () => ({ canceled: false, filePath: path })) as typeof dialog.showSaveDialog;
      dialog.showOpenDialog = (async () => ({ canceled: false, filePaths: [path] })) as typeof dialog.showOpenDialog;
    }, file);
    await page.keyboard.press('Control+s');
    await expect(page.getByRole('status').filter({ hasText: 'Saved' })).toBeVisible();

    await page.reload();
    await expect(page.getByRole('status', { name: 'Engine idle' })).toBeVisible();
    await page.getByRole('button', { name: 'Open…' }).click();
    await expect(columns(page)).toHaveCount(2);
    expect(await columnTokens(page)).toEqual(first);
    expect(await variantNames(page)).toEqual(['Baseline', 'Steer “do”']);

    await generate(page, 2);
    expect(await columnTokens(page)).toEqual(first);
    expect(errors).toEqual([]);
  } finally {
    await app.close();
  }
});
