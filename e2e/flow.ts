/**
 * The researcher's flow, step by step through the UI (roles and labels only), shared by
 * the browser and the Electron tests. Each step waits for what the user would wait for.
 */
import { expect, type Locator, type Page } from '@playwright/test';
import { storiesModel } from './paths';

/** Console errors and uncaught exceptions of a page, to assert none happened. */
export function watchConsole(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console.error: ${message.text()}`);
  });
  page.on('pageerror', (error) => errors.push(`page error: ${error.message}`));
  return errors;
}

export async function loadModel(page: Page, path: string): Promise<void> {
  await page.getByLabel('Model path').fill(path);
  await page.getByRole('button', { name: 'Load model' }).click();
  // The facts of this model: another model loaded before shows facts too, until this one replaces it.
  const facts = page.getByLabel('Loaded model');
  await expect(facts.getByText(path, { exact: true })).toBeVisible({ timeout: 120_000 });
  await expect(facts).toContainText('Parameters');
}

/**
 * A variant steered by the embedding of one token at blocks.{layer}.hook_resid_post.
 * Returns the token id the engine reported for the text.
 */
export async function addSteeringVariant(page: Page, options: { name: string; token: string; layer: number; scale: number }): Promise<number> {
  await page.getByRole('tab', { name: /Variants/ }).click();
  await page.getByRole('button', { name: '+ Add variant' }).click();
  await page.getByLabel('Variant name').fill(options.name);
  await page.getByRole('button', { name: '+ Steering vector' }).click();
  await page.getByLabel('Hook site').selectOption('hook_resid_post');
  await page.getByLabel('Layer').selectOption(`block ${options.layer}`);
  await page.getByLabel('Token text').fill(options.token);
  await page.getByRole('button', { name: 'Use embedding' }).click();
  const summary = page.getByLabel('Vector summary');
  await expect(summary).toContainText('values');
  await page.getByLabel('Scale', { exact: true }).fill(String(options.scale));
  await expect(page.getByRole('status').filter({ hasText: 'Valid for' })).toBeVisible();
  const match = /\(token (\d+)\)/.exec((await summary.textContent()) ?? '');
  if (!match) throw new Error('the vector summary names no token id');
  return Number(match[1]);
}

/** The output columns of the compare view, in variant order. */
export function columns(page: Page): Locator {
  return page.locator('section[aria-label^="Output of "]');
}

/** Generate with the keyboard shortcut and wait until every column has a stop reason. */
export async function generate(page: Page, expectedColumns: number): Promise<void> {
  await page.getByRole('textbox', { name: 'Prompt', exact: true }).focus();
  await page.keyboard.press('Control+Enter');
  await expect(page.getByRole('tab', { name: 'Compare' })).toHaveAttribute('aria-selected', 'true');
  await expect(columns(page)).toHaveCount(expectedColumns);
  for (let i = 0; i < expectedColumns; i++) await expect(columns(page).nth(i)).toContainText('stop:', { timeout: 120_000 });
}

/** Where a variant's column says it first differs from the baseline ("first differs at #k"), or null. */
export async function firstDivergence(column: Locator): Promise<number | null> {
  const match = /first differs at #(\d+)/.exec((await column.locator('header').textContent()) ?? '');
  return match ? Number(match[1]) : null;
}

/** Each column's tokens, as the text of its token spans. */
export async function columnTokens(page: Page): Promise<string[][]> {
  const count = await columns(page).count();
  const out: string[][] = [];
  for (let i = 0; i < count; i++) out.push(await columns(page).nth(i).locator('[data-index]').allTextContents());
  return out;
}

/** Save As through the in-page path dialog (browser mode: no native dialogs). */
export async function saveAsInBrowser(page: Page, path: string): Promise<void> {
  await page.keyboard.press('Control+s'); // an unsaved experiment asks where
  const dialog = page.getByRole('dialog', { name: 'Save experiment as' });
  await dialog.getByLabel('File path').fill(path);
  await dialog.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByRole('status').filter({ hasText: `Saved ${path}` })).toBeVisible();
}

export async function openInBrowser(page: Page, path: string): Promise<void> {
  await page.getByRole('button', { name: 'Open…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Open experiment' });
  await dialog.getByLabel('File path').fill(path);
  await dialog.getByRole('button', { name: 'Open' }).click();
  await expect(dialog).toBeHidden();
}

/** The variants in the list, by name. */
export async function variantNames(page: Page): Promise<string[]> {
  await page.getByRole('tab', { name: /Variants/ }).click();
  const names = await page.getByRole('navigation', { name: 'Variants' }).locator('.name').allTextContents();
  return names.map((name) => name.replace(/baseline$/, '').trim());
}

/** The served UI in this page, any offered autosave discarded, with `model` loaded. */
export async function startInBrowser(page: Page, model: string = storiesModel): Promise<void> {
  const url = process.env.TILLER_URL;
  if (!url) throw new Error('TILLER_URL is not set: the webServer in playwright.config.ts did not print its address');
  await page.goto(url);
  await expect(page.getByRole('status', { name: 'Engine idle' })).toBeVisible();
  // A previous test's unsaved work may be offered back; it has nothing to do with this one.
  const discard = page.getByRole('button', { name: 'Discard' });
  if (await discard.isVisible()) await discard.click();
  await loadModel(page, model);
}
