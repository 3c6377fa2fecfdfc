/** The steering sweep against single runs: each cell's text, the baseline text's perplexity and the target probability. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, type ModelHandle } from '../../engine';
import { buildRandomModel } from '../../../test/fixtures/random-model';
import { expectEngineError } from '../../../test/expect-engine-error';
import { steeringSweep } from './sweep';

const workDir = mkdtempSync(join(tmpdir(), 'tiller-sweep-'));
let engine: Engine;
let handle: ModelHandle;

beforeAll(async () => {
  engine = Engine.create({ cacheDir: join(workDir, 'cache'), threads: 1 });
  const model = buildRandomModel(join(workDir, 'model'), { config: 'HuggingFaceTB__SmolLM2-135M-Instruct', layers: 3, dModel: 64, dMlp: 128, nHeads: 4, nKvHeads: 2, dHead: 16, seed: 3 });
  handle = await engine.loadModel(model.dir);
});

afterAll(async () => {
  await engine.close();
  rmSync(workDir, { recursive: true, force: true });
});

const settings = { maxNewTokens: 6, stopAtEos: false };

describe('steering sweep', () => {
  it('generates each cell as its own variant would, and measures the baseline text under it', async () => {
    const promptIds = handle.tokenizer.encode('Once upon a time');
    const vector = Array.from({ length: 64 }, (_, i) => Math.cos(i));
    const target = 42;
    const result = await steeringSweep(handle, { promptIds, layers: [0, 2], scales: [0, 4, -8], vectors: [vector], settings, target, batchSize: 4 });
    expect(result.hooks).toEqual(['blocks.0.hook_resid_post', 'blocks.2.hook_resid_post']);
    expect(result.cells.map((row) => row.map((cell) => [cell.layer, cell.scale]))).toEqual([
      [[0, 0], [0, 4], [0, -8]],
      [[2, 0], [2, 4], [2, -8]],
    ]);
    const forced = [...promptIds, ...result.baseline.generatedIds];
    for (const cell of result.cells.flat()) {
      const plan = { interventions: [{ op: 'add', hook: `blocks.${cell.layer}.hook_resid_post`, vector, scale: cell.scale, positions: 'all' }] };
      const generation = handle.generateVariants(promptIds, { ...settings, temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, seed: 0, stopStrings: [] }, [{ plan }]);
      let step = await generation.next();
      while (!step.done) step = await generation.next();
      expect(cell.generatedIds).toEqual(step.value[0].generatedIds);
      const { logits } = await handle.run(forced, plan);
      const logSoftmax = (row: Float32Array, id: number) => row[id] - Math.log(row.reduce((sum, z) => sum + Math.exp(z), 0));
      const nll = result.baseline.generatedIds.reduce((sum, id, k) => sum - logSoftmax(logits[promptIds.length - 1 + k], id), 0);
      expect(Math.log(cell.perplexity)).toBeCloseTo(nll / result.baseline.generatedIds.length, 4); // float32 logits: compared in log space
      expect(cell.targetProb).toBeCloseTo(Math.exp(logSoftmax(logits[promptIds.length - 1], target)), 6);
    }
    // Scale 0 is the baseline itself.
    expect(result.cells[1][0].generatedIds).toEqual(result.baseline.generatedIds);
    expect(result.cells[1][0].perplexity).toBeCloseTo(result.baseline.perplexity, 5);
    expect(result.cells[0][2].perplexity).not.toBeCloseTo(result.baseline.perplexity, 3);
  });

  it('refuses a grid it cannot run, by field', async () => {
    const promptIds = [1, 2, 3];
    await expectEngineError(() => steeringSweep(handle, { promptIds, layers: [0, 1], scales: [1], vectors: [[1], [1], [1]] }), 'bad_argument', 'one per layer (2)');
    await expectEngineError(() => steeringSweep(handle, { promptIds, layers: [5], scales: [1], vectors: [Array(64).fill(1)] }), 'bad_plan', 'layer 5');
    await expectEngineError(() => steeringSweep(handle, { promptIds, layers: [0], scales: [1], vectors: [[1, 2]] }), 'bad_plan');
    await expectEngineError(() => steeringSweep(handle, { promptIds, layers: [0, 0], scales: [1], vectors: [[1]] }), 'bad_argument', 'must not repeat a layer');
  });
});
