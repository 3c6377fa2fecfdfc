/** `vector extract | convert | sweep` as a user runs them, on the shared stories260K model. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../test/cli-process';
import { writeSaeFolder } from '../test/fixtures/sae-folder';
import { referenceReadGguf } from '../test/reference/gguf-reader';
import { sharedPath } from '../test/shared-paths';

const dir = mkdtempSync(join(tmpdir(), 'tiller-vector-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cli = (...args: string[]) => runCli(dir, ...args);
const model = sharedPath('models', 'stories260K-hf');
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const positive = file('positive.txt', 'The happy dog played in the sun\nShe smiled with joy\n\nWhat a lovely day\n');
const negative = file('negative.txt', 'The sad dog cried in the rain\nShe frowned with grief\nWhat a gloomy day\n');

describe('vector cli', () => {
  it('extracts PCA vectors at a block range into a GGUF llama.cpp loads, and reports their norms', async () => {
    const out = join(dir, 'mood.gguf');
    const { code, stdout, stderr } = await cli('vector', 'extract', '--model', model, '--positive', positive, '--negative', negative, '--hook', 'blocks.{1..3}.hook_resid_post', '--method', 'pca', '--out', out, '--json');
    expect(code, stderr).toBe(0);
    const summary = JSON.parse(stdout) as { pairs: number; vectors: { hook: string; norm: number; relative_norm: number; explained_variance: number }[] };
    expect(summary.pairs).toBe(3); // the blank line is skipped
    expect(summary.vectors.map((v) => v.hook)).toEqual(['blocks.1.hook_resid_post', 'blocks.2.hook_resid_post', 'blocks.3.hook_resid_post']);
    for (const v of summary.vectors) {
      expect(v.norm).toBeCloseTo(1, 5);
      expect(v.relative_norm).toBeGreaterThan(0);
    }
    const gguf = referenceReadGguf(readFileSync(out));
    expect(gguf.tensors.map((tensor) => tensor.name)).toEqual(['direction.1', 'direction.2', 'direction.3']);
    expect(gguf.kv.slice(0, 3).map((kv) => kv.value)).toEqual(['controlvector', 'llama', 3]);
    expect(gguf.kv.find((kv) => kv.key === 'tiller.method')?.value).toBe('pca');
  });

  it('converts: sums inputs with scales within a layer range, and writes Neuronpedia JSON', async () => {
    const gguf = join(dir, 'mean.gguf');
    expect((await cli('vector', 'extract', '--model', model, '--positive', positive, '--negative', negative, '--hook', 'blocks.1.hook_resid_post,blocks.2.hook_resid_post', '--out', gguf)).code).toBe(0);
    const summed = join(dir, 'summed.safetensors');
    const converted = await cli('vector', 'convert', gguf, gguf, summed, '--scale', '2', '--scale=-0.5', '--layers', '2..3');
    expect(converted.code, converted.stderr).toBe(0);
    expect(converted.stderr).toContain('wrote 1 vector(s) (blocks.2.hook_resid_post)');
    const json = join(dir, 'summed.json');
    expect((await cli('vector', 'convert', summed, json, '--model-hint', 'stories260K', '--label', 'mood', '--strength', '4')).code).toBe(0);
    const body = JSON.parse(readFileSync(json, 'utf8')) as { modelId: string; layerNumber: number; hookType: string; vector: number[]; vectorLabel: string; vectorDefaultSteerStrength: number };
    expect(body).toMatchObject({ modelId: 'stories260K', layerNumber: 2, hookType: 'hook_resid_post', vectorLabel: 'mood', vectorDefaultSteerStrength: 4 });
    const original = referenceReadGguf(readFileSync(gguf)).tensors.find((tensor) => tensor.name === 'direction.2')?.values as number[];
    body.vector.forEach((value, i) => expect(value).toBeCloseTo(1.5 * original[i], 5));
    const bare = file('bare.json', '[1, 2]');
    const refused = await cli('vector', 'convert', bare, join(dir, 'x.gguf'));
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('name no hook (a bare list); give --hook');
  });

  it('sweeps scale x layer: generations, perplexity of the baseline text and the target probability', async () => {
    const vector = join(dir, 'mood.gguf');
    const { code, stdout, stderr } = await cli('vector', 'sweep', '--model', model, '--prompt', 'Once upon a time', '--vector', vector, '--layers', '1,2', '--scales=-8,0,8', '--target', ' happy', '--max-new-tokens', '6', '--json');
    expect(code, stderr).toBe(0);
    const result = JSON.parse(stdout) as { layers: number[]; scales: number[]; baseline: { text: string; perplexity: number }; cells: { layer: number; scale: number; text: string; perplexity: number; target_prob: number }[][] };
    expect(result.cells.map((row) => row.map((cell) => [cell.layer, cell.scale]))).toEqual([[[1, -8], [1, 0], [1, 8]], [[2, -8], [2, 0], [2, 8]]]);
    expect(result.cells[0][1].text).toBe(result.baseline.text);
    expect(result.cells[0][0].perplexity).toBeGreaterThan(result.baseline.perplexity);
    expect(result.cells[0][0].target_prob).toBeGreaterThan(0);
  });

  it("reads an SAE's features on a prompt and writes a feature's direction; refuses one that does not fit", async () => {
    const fixture = writeSaeFolder(join(dir, 'sae'), { hook: 'blocks.2.hook_resid_post', dIn: 64, dSae: 24, architecture: 'jumprelu' });
    const out = join(dir, 'feature.safetensors');
    const { code, stdout, stderr } = await cli('vector', 'sae', '--model', model, '--sae', fixture.folder, '--prompt', 'Once upon a time', '--top', '2', '--feature', '3', '--out', out, '--json');
    expect(code, stderr).toBe(0);
    const result = JSON.parse(stdout) as { sae: { hook: string }; tokens: { text: string; features: { feature: number; activation: number }[] }[] };
    expect(result.sae.hook).toBe('blocks.2.hook_resid_post');
    expect(result.tokens).toHaveLength(5);
    for (const token of result.tokens) expect(token.features.length).toBeLessThanOrEqual(2);
    const converted = await cli('vector', 'convert', out, join(dir, 'feature.json'));
    expect(converted.code, converted.stderr).toBe(0);
    const body = JSON.parse(readFileSync(join(dir, 'feature.json'), 'utf8')) as { layerNumber: number; vector: number[] };
    expect(body.layerNumber).toBe(2);
    body.vector.forEach((value, i) => expect(value).toBe(fixture.W_dec[3 * 64 + i]));
    const wide = writeSaeFolder(join(dir, 'sae-wide'), { hook: 'blocks.2.hook_resid_post', dIn: 768, dSae: 4 });
    const refused = await cli('vector', 'sae', '--model', model, '--sae', wide.folder, '--prompt', 'x');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('d_in is 768');
  });

  it('writes a function vector from in-context prompts and chosen heads', async () => {
    const prompts = file('antonyms.txt', 'hot: cold, big: small, up:\nfast: slow, light: dark, in:\n');
    const out = join(dir, 'antonym.safetensors');
    const { code, stdout, stderr } = await cli('vector', 'function', '--model', model, '--prompts', prompts, '--heads', '1.2,3.0', '--inject-layer', '2', '--out', out, '--json');
    expect(code, stderr).toBe(0);
    const result = JSON.parse(stdout) as { hook: string; norm: number; relative_norm: number; heads: { layer: number; head: number; norm: number }[] };
    expect(result.relative_norm).toBeGreaterThan(0);
    expect(result.hook).toBe('blocks.2.hook_resid_post');
    expect(result.heads.map((h) => [h.layer, h.head])).toEqual([[1, 2], [3, 0]]);
    expect(result.norm).toBeGreaterThan(0);
    expect((await cli('vector', 'function', '--model', model, '--prompts', prompts, '--heads', '1-2')).stderr).toContain('--heads: expected heads as LAYER.HEAD');
  });

  it('extracts ActAdd from one pair as a plan that generate --plan applies, and refuses what does not fit it', async () => {
    const out = join(dir, 'love-hate.json');
    const hook = 'blocks.1.hook_resid_pre';
    const { code, stdout, stderr } = await cli('vector', 'extract', '--method', 'actadd', '--model', model, '--positive', 'Love', '--negative', 'I hate you', '--hook', hook, '--scale', '5', '--out', out, '--json');
    expect(code, stderr).toBe(0);
    const summary = JSON.parse(stdout) as { hook: string; rows: { position: number; positive: string; negative: string; norm: number; relative_norm: number }[] };
    expect(summary.rows.at(-1)?.relative_norm).toBeGreaterThan(0);
    expect(summary.hook).toBe(hook);
    expect(summary.rows.length).toBeGreaterThan(1);
    expect(summary.rows.map((row) => row.position)).toEqual(summary.rows.map((_, j) => 1 + j));
    expect(['▁', ' ']).toContain(summary.rows.at(-1)?.positive); // "Love" is the shorter: padded with spaces
    const plan = JSON.parse(readFileSync(out, 'utf8')) as { interventions: { op: string; hook: string; scale: number; positions: number[]; vector: number[] }[] };
    expect(plan.interventions.map((step) => [step.op, step.hook, step.scale, step.positions])).toEqual(summary.rows.map((row) => ['add', hook, 5, [row.position]]));
    plan.interventions.forEach((step, j) => expect(Math.hypot(...step.vector)).toBeCloseTo(summary.rows[j].norm, 4));
    const steered = await cli('generate', '--model', model, '--prompt', 'Once upon a time', '--plan', out, '--max-new-tokens', '4', '--json');
    expect(steered.code, steered.stderr).toBe(0);
    const refused = async (...extra: string[]) => (await cli('vector', 'extract', '--method', 'actadd', '--model', model, '--positive', 'Love', '--negative', 'Hate', ...extra)).stderr;
    expect(await refused('--hook', hook, '--out', join(dir, 'x.gguf'))).toContain('--out must be a .json file');
    expect(await refused('--hook', 'blocks.{1..2}.hook_resid_pre')).toContain('ActAdd reads and adds at one hook');
    expect(await refused('--hook', hook, '--readout', 'mean')).toContain('--readout does not apply to --method actadd');
  });

  it('names the mistake', async () => {
    expect((await cli('vector', 'bend')).stderr).toContain('vector: give a subcommand (extract, convert, sweep, function, sae), not "bend"');
    expect((await cli('vector', 'convert', positive)).stderr).toContain('give IN... OUT');
    expect((await cli('vector', 'extract', '--model', model, '--negative', negative, '--hook', 'blocks.1.hook_resid_post')).stderr).toContain('--positive FILE is required');
    const hook = await cli('vector', 'extract', '--model', model, '--positive', positive, '--negative', negative, '--hook', 'blocks.9.hook_resid_post');
    expect(hook.code).toBe(1);
    expect(hook.stderr).toContain('layer 9 is out of range');
    const gguf = await cli('vector', 'extract', '--model', model, '--positive', positive, '--negative', negative, '--hook', 'blocks.0.hook_resid_post', '--out', join(dir, 'zero.gguf'));
    expect(gguf.stderr).toContain('direction.1');
  });
});
