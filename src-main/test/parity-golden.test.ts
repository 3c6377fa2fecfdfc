/**
 * stories260K through the engine, from both of its checkpoint formats, against the
 * outputs of an independent PyTorch reference (../shared/golden/stories260k.json, see its
 * README). Also checks the TypeScript reference forward against the same golden values,
 * since parity-random.test.ts trusts that reference for models without golden outputs.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, type ModelHandle } from '../engine/engine';
import { collect } from '../engine/generate/generate';
import { generationSettingsSchema } from '../engine/generate/settings';
import { openModel } from '../engine/model/load';
import { expectedParams } from '../engine/model/spec';
import { argmax, maxAbsDiff, referenceForward, weightGetter } from './reference/forward';
import { sharedPath } from './shared-paths';

/** The fields of golden/stories260k.json these tests read. */
interface Golden {
  greedy_from_bos_200: number[]; // 201 ids, the leading BOS included
  prompt_ids: number[];
  logits_last: number[]; // [d_vocab] at the last prompt position, rounded to 5 decimals
  argmax_per_pos: number[];
  resid_post_last_pos: number[][]; // [n_layers][d_model]
}

const golden = JSON.parse(readFileSync(sharedPath('golden', 'stories260k.json'), 'utf8')) as Golden;

/** golden/README.md: a float32 reference, agreement to about 1e-4 absolute on logits. */
const TOLERANCE = 1e-4;

const CHECKPOINTS = [
  { format: 'llama2.c', path: sharedPath('models', 'stories260K', 'stories260K.bin') },
  { format: 'Hugging Face', path: sharedPath('models', 'stories260K-hf') },
];

let engine: Engine;
let cacheDir: string;

beforeAll(() => {
  cacheDir = mkdtempSync(join(tmpdir(), 'tiller-parity-golden-'));
  engine = Engine.create({ cacheDir });
});

afterAll(async () => {
  await engine.close();
  rmSync(cacheDir, { recursive: true, force: true });
});

describe.each(CHECKPOINTS)('stories260K ($format) matches the golden outputs', ({ path }) => {
  let handle: ModelHandle;

  beforeAll(async () => {
    handle = await engine.loadModel(path);
  });

  afterAll(async () => {
    await handle?.unload();
  });

  it('gives the golden logits at the last prompt position', async () => {
    const [logits] = await handle.forward(golden.prompt_ids, 'last');
    expect(maxAbsDiff(logits, golden.logits_last)).toBeLessThan(TOLERANCE);
  });

  it('gives the golden argmax at every prompt position', async () => {
    const logits = await handle.forward(golden.prompt_ids, 'all');
    expect(logits.map(argmax)).toEqual(golden.argmax_per_pos);
  });

  it('decodes the golden 200 greedy tokens from BOS, token for token', async () => {
    const settings = generationSettingsSchema.parse({ maxNewTokens: 200, temperature: 0, stopAtEos: false });
    const { result } = await collect(handle.generate([golden.prompt_ids[0]], settings));
    expect(result.ids).toEqual(golden.greedy_from_bos_200);
  });

  it('read by openModel, its weights give the golden logits and resid_post in the reference forward', async () => {
    const loaded = await openModel(path);
    const weights = new Map([...expectedParams(loaded.spec).keys()].map((name) => [name, loaded.weights.read(name)]));
    loaded.weights.close();

    const reference = referenceForward(loaded.spec, weightGetter(weights), golden.prompt_ids);
    const last = golden.prompt_ids.length - 1;
    expect(maxAbsDiff(reference.logits[last], golden.logits_last)).toBeLessThan(TOLERANCE);
    expect(reference.logits.map(argmax)).toEqual(golden.argmax_per_pos);
    reference.residPost.forEach((layer, i) => {
      expect(maxAbsDiff(layer[last], golden.resid_post_last_pos[i]), `blocks.${i}.hook_resid_post`).toBeLessThan(TOLERANCE);
    });
  });
});
