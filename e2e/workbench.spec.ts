/**
 * The whole research loop in a browser against the real engine (`npm run serve`):
 * load stories260K, steer a variant with a token embedding, generate both columns, save,
 * reload the page, reopen the file and find everything (results included) back, then
 * re-run and get the same tokens. Screenshots of each view go to test-results/; with
 * TILLER_UPDATE_SCREENSHOTS=1 the compare view also goes to docs/compare-view.png for the
 * README (only then, so a test run leaves the working tree clean).
 */
import { expect, test } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { addSteeringVariant, columnTokens, columns, firstDivergence, generate, loadModel, openInBrowser, saveAsInBrowser, variantNames, watchConsole } from './flow';
import { repoRoot, storiesModel, storiesModelMissing } from './paths';

const STEER = { name: 'Steer “do”', token: 'do', layer: 2, scale: 2 };

test.skip(storiesModelMissing !== null, storiesModelMissing ?? '');

test('steer, compare, save, reopen and re-run in the browser', async ({ page }, testInfo) => {
  const url = process.env.TILLER_URL;
  if (!url) throw new Error('TILLER_URL is not set: the webServer in playwright.config.ts did not print its address');
  const errors = watchConsole(page);
  const shot = (name: string) => testInfo.outputPath(`${name}.png`);

  await page.goto(url);
  await expect(page.getByRole('status', { name: 'Engine idle' })).toBeVisible();

  // Model panel.
  await loadModel(page, storiesModel);
  const facts = page.getByLabel('Loaded model');
  await expect(facts).toContainText('LlamaForCausalLM');
  await expect(facts).toContainText('d_model');
  await expect(facts).toContainText('CPU', { ignoreCase: true });
  await page.locator('aside.sidebar').screenshot({ path: shot('model-panel') });

  // Variant editor: the baseline plus one steered variant.
  const tokenId = await addSteeringVariant(page, STEER);
  expect(tokenId).toBe(400); // "do" encodes to ▁do, id 400 in this vocabulary
  await page.screenshot({ path: shot('variant-editor') });

  // Compare view.
  await generate(page, 2);
  const first = await columnTokens(page);
  expect(first[0].length).toBeGreaterThan(0);
  expect(first[1].join('')).not.toBe(first[0].join(''));
  const highlighted = columns(page).nth(1).locator('[data-diff="true"]');
  expect(await highlighted.count()).toBeGreaterThan(0);
  await expect(columns(page).nth(0).locator('[data-diff="true"]')).toHaveCount(0);

  // Token details on hover: probability, top-5 and the change against the baseline (the
  // first differing token: the last one read in the same context as the baseline's).
  const divergence = await firstDivergence(columns(page).nth(1));
  expect(divergence).not.toBeNull();
  await columns(page).nth(1).locator(`[data-index="${divergence}"]`).hover();
  const tooltip = page.getByRole('tooltip');
  await expect(tooltip).toContainText('Probability');
  await expect(tooltip).toContainText('Δ logprob vs baseline');
  await expect(tooltip).toContainText('Top 5');
  await page.screenshot({ path: shot('compare-view-tooltip') });
  await page.mouse.move(5, 890);
  await expect(tooltip).toBeHidden();

  // The same details from the keyboard: focus shows them, arrows move, Escape hides them.
  const steeredTokens = columns(page).nth(1).getByRole('option');
  await steeredTokens.first().focus();
  await expect(tooltip).toContainText('#0 ·');
  await page.keyboard.press('ArrowRight');
  await expect(steeredTokens.nth(1)).toBeFocused();
  await expect(tooltip).toContainText('#1 ·');
  await page.keyboard.press('Escape');
  await expect(tooltip).toBeHidden();
  await expect(steeredTokens.nth(1)).toBeFocused();
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  await page.screenshot({ path: shot('compare-view') });
  if (process.env.TILLER_UPDATE_SCREENSHOTS === '1') {
    mkdirSync(resolve(repoRoot, 'docs'), { recursive: true });
    await page.screenshot({ path: resolve(repoRoot, 'docs/compare-view.png') });
  }
  // The dark theme follows the OS; the chart re-reads its colours.
  await page.emulateMedia({ colorScheme: 'dark' });
  await expect(page.getByLabel('Per-token logprob chart')).toHaveAttribute('data-series', '2'); // remade, and refilled
  await page.screenshot({ path: shot('compare-view-dark') });
  await page.emulateMedia({ colorScheme: 'light' });

  // Save, reload the page, reopen: prompt, variants and results come back without generating.
  const file = testInfo.outputPath('steering.tiller.json');
  await saveAsInBrowser(page, file);
  await expect(page.getByLabel('Unsaved changes')).toHaveCount(0);
  const prompt = await page.getByRole('textbox', { name: 'Prompt', exact: true }).inputValue();

  await page.reload();
  await expect(page.getByRole('status', { name: 'Engine idle' })).toBeVisible();
  await openInBrowser(page, file);
  await expect(page.getByRole('tab', { name: 'Compare' })).toHaveAttribute('aria-selected', 'true');
  await expect(columns(page)).toHaveCount(2);
  expect(await columnTokens(page)).toEqual(first);
  await expect(page.getByRole('textbox', { name: 'Prompt', exact: true })).toHaveValue(prompt);
  expect(await variantNames(page)).toEqual(['Baseline', STEER.name]);
  await page.getByRole('button', { name: new RegExp(STEER.name) }).click();
  await expect(page.getByLabel('Vector summary')).toContainText('embedding of “do” (token 400)');
  await expect(page.getByLabel('Scale', { exact: true })).toHaveValue(String(STEER.scale));

  // Re-run: the same seed and settings give the same tokens.
  await generate(page, 2);
  expect(await columnTokens(page)).toEqual(first);

  expect(errors).toEqual([]);
});
