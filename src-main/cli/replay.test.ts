/**
 * `replay`: an experiment saved with the results of a random-weight model, generated again
 * by the CLI as a user runs it. It loads the weight format the file records, reports equal
 * tokens as equal and a changed token as the first difference (exit 1), and says so when
 * told to replay in another format than the results were made with.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, experimentSchema, generationSettingsSchema, variantReport, weightOptions, type Experiment, type TokenRecord, type WeightOptions } from '../engine/api';
import { saveExperiment } from '../engine/experiment/file';
import { buildRandomModel, type RandomModel } from '../test/fixtures/random-model';
import { runCli } from '../test/cli-process';

const workDir = mkdtempSync(join(tmpdir(), 'tiller-replay-'));
const cacheDir = join(workDir, 'cache');
let model: RandomModel;
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

beforeAll(() => {
  model = buildRandomModel(join(workDir, 'model'), { config: 'HuggingFaceTB__SmolLM2-135M-Instruct', layers: 2, dModel: 32, dMlp: 64, nHeads: 4, nKvHeads: 2, dHead: 8, seed: 77 });
});

const variants = [
  { id: 'base', name: 'baseline', interventions: [] },
  { id: 'steer', name: 'steered', interventions: [{ op: 'add', hook: 'blocks.0.hook_resid_post', vector: Array.from({ length: 32 }, (_, i) => Math.sin(i)), scale: 3 }] },
];

/** The experiment the app would save after generating both variants with `weights`. */
async function experimentMadeWith(weights: WeightOptions): Promise<Experiment> {
  const engine = Engine.create({ cacheDir: join(workDir, 'maker-cache') });
  try {
    const handle = await engine.loadModel(model.dir, { weights });
    const base = experimentSchema.parse({
      format: 'tiller-experiment',
      version: 1,
      createdAt: '2026-01-02T03:04:05.000Z',
      updatedAt: '2026-01-02T03:04:05.000Z',
      model: { path: model.dir, format: 'huggingface', architecture: handle.spec.architecture, fingerprint: handle.fingerprint, weights },
      prompt: { text: 'Once upon a time' },
      settings: generationSettingsSchema.parse({ maxNewTokens: 8, temperature: 0.8, seed: 5, stopAtEos: false }),
      variants,
    });
    const promptIds = handle.tokenizer.encode(base.prompt.text);
    const runs = base.variants.map((variant) => ({ plan: variantReport(handle.spec, variant).plan!, decoding: variant.decoding }));
    const tokens: TokenRecord[][] = runs.map(() => []);
    const stream = handle.generateVariants(promptIds, base.settings, runs);
    let step = await stream.next();
    for (; !step.done; step = await stream.next()) tokens[step.value.variant].push({ id: step.value.token.id, text: step.value.token.text, logprob: step.value.token.logprob, top: [] });
    const results = step.value.map((result, i) => ({ variantId: base.variants[i].id, tokens: tokens[i], text: result.text, stopReason: result.stopReason, tokensPerSecond: result.tokensPerSecond }));
    return { ...base, results: { ranAt: base.createdAt, provider: handle.provider, promptIds, variants: results } };
  } finally {
    await engine.close();
  }
}

function save(name: string, experiment: Experiment): string {
  const path = join(workDir, `${name}.tiller.json`);
  saveExperiment(path, experiment);
  return path;
}

interface ReplayJson {
  weights: { recorded: string; replayed: string; match: boolean };
  model: { fingerprint_matches: boolean };
  variants: { id: string; status: string; saved_tokens: number; first_difference: { index: number; saved: { id: number } } | null }[];
  equal: boolean;
}

const replay = async (...args: string[]) => {
  const outcome = await runCli(cacheDir, 'replay', ...args, '--json');
  return { ...outcome, report: outcome.stdout ? (JSON.parse(outcome.stdout) as ReplayJson) : null };
};

describe('replay', () => {
  it('generates every variant again with the recorded f32 weights and finds the saved tokens', async () => {
    const { code, report, stderr } = await replay(save('f32', await experimentMadeWith(weightOptions('f32'))));
    expect(stderr).not.toMatch(/warning/);
    expect(code).toBe(0);
    expect(report!.weights).toEqual({ recorded: 'f32', replayed: 'f32', match: true });
    expect(report!.model.fingerprint_matches).toBe(true);
    expect(report!.variants.map((v) => [v.id, v.status, v.saved_tokens])).toEqual([
      ['base', 'equal', 8],
      ['steer', 'equal', 8],
    ]);
  });

  it('reports the first token that differs from the saved results, with exit status 1', async () => {
    const experiment = await experimentMadeWith(weightOptions('f32'));
    const steered = experiment.results!.variants[1].tokens[5];
    steered.id = (steered.id + 1) % model.spec.dVocab;
    const { code, report } = await replay(save('tampered', experiment));
    expect(code).toBe(1);
    expect(report!.equal).toBe(false);
    expect(report!.variants.map((v) => v.status)).toEqual(['equal', 'differs']);
    expect(report!.variants[1].first_difference).toMatchObject({ index: 5, saved: { id: steered.id } });
  });

  it('loads the int8 weights an experiment records, and says so when told to replay it in f32', async () => {
    const path = save('int8', await experimentMadeWith(weightOptions('int8')));
    const recorded = await replay(path);
    expect(recorded.code).toBe(0);
    expect(recorded.report!.weights).toEqual({ recorded: 'int8-b32-a4', replayed: 'int8-b32-a4', match: true });
    const other = await replay(path, '--weights', 'f32');
    expect(other.report!.weights).toEqual({ recorded: 'int8-b32-a4', replayed: 'f32', match: false });
    expect(other.stderr).toContain('warning: the results were made with int8-b32-a4 weights; this replay uses f32, so tokens may differ for that reason alone');
  });

  it('refuses a file with no saved results, and a second file argument, naming the problem', async () => {
    const experiment = await experimentMadeWith(weightOptions('f32'));
    const unsaved = await replay(save('unsaved', { ...experiment, results: null }));
    expect(unsaved.code).toBe(1);
    expect(unsaved.stderr).toMatch(/error \(bad_experiment\): .*unsaved\.tiller\.json holds no saved results to compare with/);
    const two = await runCli(cacheDir, 'replay', 'a.tiller.json', 'b.tiller.json');
    expect(two.code).toBe(2);
    expect(two.stderr).toContain('replay takes one experiment file (got 2)');
  });
});
