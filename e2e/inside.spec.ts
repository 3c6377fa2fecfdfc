/**
 * The Inside tab against the real engine: a logit lens grid, a patching heatmap whose
 * cell becomes a Compare variant in one click, a causal tracing heatmap (a cell's restore as a variant), a
 * head's attention pattern ablated from the viewer, a neuron atlas layer with a token
 * search whose neuron is clamped in Compare and whose best match's clamp curve is clicked
 * into another variant, a clamp curve of a neuron typed in the new-analysis form, an atlas comparison with another file of the model (per-layer
 * agreement bars), the internal-consistency strip under each generated token (and none
 * once the lens pass is turned off), all kept in the saved experiment. Screenshots of each go to the test's output folder.
 */
import { expect, test } from '@playwright/test';
import { generate, openInBrowser, saveAsInBrowser, startInBrowser, variantNames, watchConsole } from './flow';
import { storiesCheckpoint, storiesModelMissing } from './paths';

test.skip(storiesModelMissing !== null, storiesModelMissing ?? '');

test('lens grid and patching heatmap, a cell as a Compare variant, kept in the file', async ({ page }, testInfo) => {
  const errors = watchConsole(page);
  await startInBrowser(page);
  await page.getByRole('tab', { name: 'Inside' }).click();

  // Logit lens: the last layer's top-1 at the last position is the model's next token.
  await page.getByLabel('Lens prompt').fill('Once upon a time');
  await page.getByLabel('Target token').fill(',');
  await page.getByRole('button', { name: 'Run' }).click();
  const grid = page.getByRole('table', { name: 'Logit lens: top-1 token per layer and position' });
  await expect(grid).toBeVisible();
  await expect(grid.getByRole('row')).toHaveCount(6); // header + 5 layers
  const lastCell = grid.getByRole('button', { name: /^layer 4, position 4 \(␣time\): top-1 , at / });
  await expect(lastCell).toHaveText(',');
  await lastCell.hover();
  await expect(page.getByText(/^layer 4, position 4 \(␣time\): top-1 , at [\d.]+%; p\(,\) [\d.]+%, rank 0;/)).toBeVisible();
  await expect(page.getByText('Across layers at position 4 (␣time)')).toBeVisible();
  await page.getByRole('region', { name: 'Analysis result' }).screenshot({ path: testInfo.outputPath('lens-grid.png') });
  // A lens row as an early exit: the blocks up to it, the rest skipped, in a new Compare variant.
  await grid.getByRole('button', { name: /^layer 2, position 4 / }).click();
  await page.getByRole('button', { name: 'Exit after block 2 in a new Compare variant' }).click();
  await expect(page.getByRole('tab', { name: 'Compare' })).toHaveAttribute('aria-selected', 'true');
  expect(await variantNames(page)).toContain('Exit after block 2');
  await page.getByRole('tab', { name: 'Inside' }).click();

  // Patching: "Lily had a cat" vs "... dog" ("␣c at" / "␣do g": same length), answer and wrong answer by id.
  await page.getByRole('radio', { name: 'Activation patching' }).check();
  await page.getByLabel('Clean prompt').fill('Lily had a cat');
  await page.getByLabel('Corrupted prompt').fill('Lily had a dog');
  await page.getByLabel('Answer', { exact: true }).fill('#268');
  await page.getByLabel('Wrong answer').fill('#266');
  await page.getByRole('button', { name: 'Run' }).click();
  const heatmap = page.getByRole('table', { name: 'Activation patching: normalised effect per layer and position' });
  await expect(heatmap).toBeVisible();
  await expect(page.getByText(/30 patches in 4 forward passes running \d+ block-positions over their rows \(a full pass per patch: 900\)/)).toBeVisible();
  await heatmap.getByRole('button', { name: /^layer 2, 5 at: normalised effect/ }).click();
  await page.getByRole('region', { name: 'Analysis result' }).screenshot({ path: testInfo.outputPath('patching-heatmap.png') });
  await page.getByRole('button', { name: 'Patch this cell in a new Compare variant' }).click();
  await expect(page.getByRole('tab', { name: 'Compare' })).toHaveAttribute('aria-selected', 'true');
  expect(await variantNames(page)).toContain('Patch resid_pre L2 pos 5');

  // Prompts of different lengths, their positions paired from the last token: a cell whose positions differ has no Compare patch.
  await page.getByRole('tab', { name: 'Inside' }).click();
  await page.getByRole('radio', { name: 'Activation patching' }).check();
  await page.getByLabel('Clean prompt').fill('Lily had a cat');
  await page.getByLabel('Corrupted prompt').fill('Lily had a big dog');
  await page.getByLabel('Answer', { exact: true }).fill('#268');
  await page.getByLabel('Wrong answer').fill('#266');
  await page.getByLabel('Pair positions').selectOption('end');
  await page.getByRole('button', { name: 'Run' }).click();
  await expect(page.getByText(/30 patches in 5 forward passes running \d+ block-positions/)).toBeVisible();
  await heatmap.getByRole('button', { name: /^layer 1, 5 at: normalised effect/ }).click();
  await expect(page.getByRole('button', { name: 'Patch this cell in a new Compare variant' })).toBeDisabled();

  // Causal tracing: noise "big dog", restore each block output; the last block at the last position gives the clean answer back.
  await page.getByRole('tab', { name: 'Inside' }).click();
  await page.getByRole('radio', { name: 'Causal tracing' }).check();
  await page.getByLabel('Tracing prompt').fill('Lily had a big dog. The dog was');
  await page.getByLabel('Subject').fill('big dog');
  await page.getByLabel('Noise samples').fill('4');
  await page.getByRole('button', { name: 'Run' }).click();
  const trace = page.getByRole('table', { name: 'Causal tracing: p(answer) with each state restored, per layer and position' });
  await expect(trace).toBeVisible();
  await expect(trace.getByRole('columnheader', { name: '*4 ␣big' })).toBeVisible();
  await page.getByRole('region', { name: 'Analysis result' }).screenshot({ path: testInfo.outputPath('causal-tracing.png') });
  // A cell's restore in noise sample 0, and the noise alone, each a new Compare variant.
  await trace.getByRole('button', { name: /^layer 2, position 11 / }).click();
  await page.getByRole('button', { name: 'Restore this state in a new Compare variant' }).click();
  await expect(page.getByRole('tab', { name: 'Compare' })).toHaveAttribute('aria-selected', 'true');
  expect(await variantNames(page)).toContain('Trace restore hidden L2 pos 11 (noise sample 0)');
  await page.getByRole('tab', { name: 'Inside' }).click();
  await page.getByRole('button', { name: 'Noise the subject in a new Compare variant' }).click();
  await expect(page.getByRole('tab', { name: 'Compare' })).toHaveAttribute('aria-selected', 'true');
  expect((await variantNames(page)).filter((name) => /^Trace noise subject pos 4-\d+ \(noise sample 0\)$/.test(name))).toHaveLength(1);
  await page.getByRole('tab', { name: 'Inside' }).click();

  // Attention: a head's pattern, and the head ablated in a new Compare variant.
  await page.getByRole('radio', { name: 'Attention' }).check();
  await page.getByLabel('Attention prompt').fill('Lily had a big dog. The dog was');
  await page.getByRole('button', { name: 'Run' }).click();
  const pattern = page.getByRole('table', { name: 'Attention pattern: query rows, key columns' });
  await expect(pattern).toBeVisible();
  await page.getByRole('combobox', { name: 'Layer', exact: true }).selectOption('L2');
  await page.getByRole('combobox', { name: 'Head', exact: true }).selectOption('H3');
  await pattern.getByRole('button', { name: /^L2H3: query 11 \(␣was\) → key 9 \(␣do\): / }).hover();
  await page.getByRole('region', { name: 'Analysis result' }).screenshot({ path: testInfo.outputPath('attention-pattern.png') });
  await page.getByRole('button', { name: 'Ablate L2H3 in a new Compare variant' }).click();
  await expect(page.getByRole('tab', { name: 'Compare' })).toHaveAttribute('aria-selected', 'true');

  // Neuron atlas: layer 2's neurons decoded, the neurons whose up row says "▁b", those most active on a prompt; one clamped in Compare.
  await page.getByRole('tab', { name: 'Inside' }).click();
  await page.getByRole('radio', { name: 'Neuron atlas' }).check();
  await page.getByLabel('Atlas layer').fill('2');
  await page.getByLabel('Search token').fill('▁b');
  await page.getByLabel('Active on prompt').fill('Lily had a big dog');
  await page.getByRole('button', { name: 'Run' }).click();
  const neurons = page.getByRole('table', { name: 'Neurons' });
  await expect(neurons).toBeVisible();
  await expect(page.getByRole('region', { name: 'Analysis result' })).toContainText(/Layer 2 × 172 neurons, top 10 tokens per direction through the final norm, tokens ranked by logit\..* 516 directions decoded in/);
  await expect(neurons.getByRole('row')).toHaveCount(51); // header + the 50 best matches
  await expect(neurons.getByRole('columnheader', { name: 'Searched token' })).toBeVisible();
  await page.getByRole('region', { name: 'Analysis result' }).screenshot({ path: testInfo.outputPath('atlas-search.png') });
  await page.getByRole('radio', { name: 'Active on the prompt' }).check();
  await expect(neurons.getByRole('columnheader', { name: 'Largest activation' })).toBeVisible();
  await page.getByRole('radio', { name: 'Layer table' }).check();
  await expect(neurons.getByRole('row')).toHaveCount(173);
  await page.getByRole('region', { name: 'Analysis result' }).screenshot({ path: testInfo.outputPath('atlas-layer.png') });
  await page.getByLabel('Clamp value').fill('8');
  await neurons.getByRole('row').nth(6).getByRole('button', { name: 'Clamp' }).click();
  await expect(page.getByRole('tab', { name: 'Compare' })).toHaveAttribute('aria-selected', 'true');
  expect(await variantNames(page)).toContain('Clamp L2N5 = 8');
  // Clamp curve: from the best "▁b" neuron of the search, p(▁b) against 0-100x its largest activation; a click on the chart clamps it in Compare.
  await page.getByRole('tab', { name: 'Inside' }).click();
  await page.getByRole('radio', { name: 'Search' }).check();
  const best = (await neurons.getByRole('row').nth(1).locator('td').first().textContent()) ?? '';
  await neurons.getByRole('row').nth(1).getByRole('button', { name: 'Curve' }).click();
  const panel = page.getByRole('form', { name: `Clamp curve of ${best}` });
  await expect(panel.getByLabel('Concept token')).toHaveValue('▁b');
  await expect(panel.getByLabel('Prompt')).toHaveValue('Lily had a big dog');
  await panel.getByLabel('Clamp values').fill('0, 1, 10, 100');
  await panel.getByRole('button', { name: 'Run clamp curve' }).click();
  await expect(page.getByRole('table', { name: 'Clamp values' }).getByRole('row')).toHaveCount(5); // header + 4 values
  await page.getByLabel('Log x').check();
  const chart = page.locator(`canvas[aria-label="p(␣b) vs clamp value of ${best}"]`);
  await expect(chart).toBeVisible();
  await expect(chart).toHaveAttribute('data-series', '2'); // the curve and the unclamped line
  await page.getByRole('region', { name: 'Analysis result' }).screenshot({ path: testInfo.outputPath('clamp-curve.png') });
  await chart.click();
  await expect(page.getByRole('tab', { name: 'Compare' })).toHaveAttribute('aria-selected', 'true');
  expect((await variantNames(page)).filter((name) => name.startsWith(`Clamp ${best} = `))).toHaveLength(1);
  // The clamp curve from the new-analysis form: the neuron typed, checked against the loaded model first.
  await page.getByRole('tab', { name: 'Inside' }).click();
  await page.getByRole('radio', { name: 'Clamp curve' }).check();
  const form = page.getByRole('form', { name: 'New analysis' });
  await form.getByLabel('Clamped layer').fill('99');
  await expect(form).toContainText("layer 99 is outside the model's blocks");
  await expect(form.getByRole('button', { name: 'Run' })).toBeDisabled();
  await form.getByLabel('Clamped layer').fill('2');
  await form.getByLabel('Clamped neuron').fill('5');
  await form.getByLabel('Concept token').fill('▁b');
  await form.getByLabel('Clamp values').fill('0, 10');
  await form.screenshot({ path: testInfo.outputPath('clamp-curve-form.png') });
  await form.getByRole('button', { name: 'Run' }).click();
  await expect(page.getByRole('table', { name: 'Clamp values' }).getByRole('row')).toHaveCount(3); // header + 2 values
  await expect(page.getByRole('region', { name: 'Analysis result' })).toContainText('L2N5 (blocks.2.mlp.hook_post) clamped at every position');
  // An empty layer field searches every layer (the decoded layers come from the cache where they are there).
  await page.getByRole('tab', { name: 'Inside' }).click();
  await page.getByRole('radio', { name: 'Neuron atlas' }).check();
  await page.getByLabel('Atlas layer').fill('');
  await page.getByLabel('Search token').fill('▁b');
  await page.getByLabel('Active on prompt').fill('');
  await page.getByRole('button', { name: 'Run' }).click();
  await expect(page.getByRole('region', { name: 'Analysis result' })).toContainText('5 layers × 172 neurons');
  await expect(page.getByRole('region', { name: 'Analysis result' })).toContainText('2064 directions decoded');
  await expect(neurons.getByRole('row')).toHaveCount(51);
  // Atlas comparison with the same weights as a llama2.c checkpoint (another model to the engine): every neuron keeps its top token.
  await page.getByRole('radio', { name: 'Atlas comparison' }).check();
  await page.getByLabel('Other model path').fill(storiesCheckpoint);
  await page.getByRole('button', { name: 'Run' }).click();
  await expect(page.getByRole('region', { name: 'Analysis result' })).toContainText('Same top-1 up token in 860 of 860 neurons (100.0%)');
  await expect(page.getByText(/^the tokenizers differ at 93 of 512 token ids/)).toBeVisible(); // llama2.c writes some tokens otherwise
  const bars = page.locator('canvas[aria-label="Same top-1 token per layer (click a bar to list its changed neurons)"]');
  await expect(bars).toBeVisible();
  await page.getByRole('region', { name: 'Analysis result' }).screenshot({ path: testInfo.outputPath('atlas-compare.png') });
  await bars.click(); // the middle bar: layer 2
  await expect(page.getByLabel('Changed neurons of layer')).toHaveValue('2');
  await expect(page.getByText('No listed neuron changed its top token in layer 2.')).toBeVisible();

  // Internal consistency: after a run, each column's score and a per-block lens strip under every token.
  await generate(page, 8);
  const baselineColumn = page.getByRole('region', { name: 'Output of Baseline' });
  await expect(baselineColumn.locator('header')).toContainText(/IC \d\.\d\d/);
  await expect(page.getByRole('region', { name: 'Output of Clamp L2N5 = 8' }).locator('header')).toContainText(/IC \d\.\d\d/);
  const firstToken = baselineColumn.locator('[data-index="0"]');
  await expect(firstToken).toHaveCSS('background-image', /linear-gradient/);
  await baselineColumn.screenshot({ path: testInfo.outputPath('consistency-strip.png') });
  await firstToken.hover();
  await expect(page.getByRole('tooltip')).toContainText(/Lens agrees\s*\d of 4 blocks before the last/);
  // Turned off (a generation setting, kept with the file), a run takes no lens readings: no score, no strip.
  const lensPass = page.getByLabel('Internal consistency (lens readings after each run)');
  await lensPass.uncheck();
  await generate(page, 8);
  await expect(baselineColumn.locator('header')).not.toContainText('IC ');
  await expect(firstToken).toHaveCSS('background-image', 'none');

  // All the analyses are saved with the experiment and come back with it.
  const file = testInfo.outputPath('inside.tiller.json');
  await saveAsInBrowser(page, file);
  await page.reload();
  await expect(page.getByRole('status', { name: 'Engine idle' })).toBeVisible();
  await openInBrowser(page, file);
  await expect(page.getByRole('tab', { name: 'Variants 8' })).toBeVisible(); // loaded: the view is chosen once the file is in
  await expect(lensPass).not.toBeChecked();
  await page.getByRole('tab', { name: 'Inside' }).click();
  await expect(page.getByRole('button', { name: /^Lens Once upon a time/ })).toBeVisible();
  await expect(page.getByRole('button', { name: /^Tracing big dog in Lily had a big dog/ })).toBeVisible();
  await expect(page.getByRole('button', { name: /^Attention Lily had a big dog/ })).toBeVisible();
  await expect(page.getByRole('button', { name: /^Atlas layer 2, search ▁b, active on Lily had a big dog/ })).toBeVisible();
  await expect(page.getByRole('button', { name: /^Clamp curve L2N\d+ → ▁b on Lily had a big dog/ })).toBeVisible();
  await expect(page.getByRole('button', { name: /^Atlas comparison 100\.0% vs stories260K\.bin, all layers, up/ })).toBeVisible();
  await page.getByRole('button', { name: /^Patching Lily had a cat → Lily had a dog/ }).click();
  await expect(heatmap).toBeVisible();
  expect(errors).toEqual([]);
});
