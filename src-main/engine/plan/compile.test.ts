/** The plan-session cache: one graph per structure, bounded, never releasing a session in use. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, type ModelHandle } from '../engine';
import { sharedPath } from '../../test/shared-paths';

const cacheDir = mkdtempSync(join(tmpdir(), 'tiller-sessions-'));
let engine: Engine;
let model: ModelHandle;
beforeAll(async () => {
  engine = Engine.create({ cacheDir });
  model = await engine.loadModel(sharedPath('models', 'stories260K-hf'));
});
afterAll(async () => {
  await engine.close();
  rmSync(cacheDir, { recursive: true, force: true });
});

const steerAt = (layer: number, scale = 1) => ({ interventions: [{ op: 'add', hook: `blocks.${layer}.hook_resid_post`, vector: Array(64).fill(0.1), scale }] });

describe('plan sessions', () => {
  it('reuses one compiled session for plans that differ only in values, and reports its memory', async () => {
    const before = model.sessionUsage();
    await model.run([1, 2, 3], steerAt(1, 1));
    const after = model.sessionUsage();
    await model.run([1, 2, 3], steerAt(1, 5));
    expect(after.sessions).toBe(before.sessions + 1);
    expect(model.sessionUsage()).toEqual(after);
    expect(after.graphBytes).toBeGreaterThan(before.graphBytes);
    expect(after.estimatedBytes).toBeGreaterThan(after.graphBytes);
  });

  it('holds at most 8 sessions, and a generation in progress keeps its session through evictions', async () => {
    const settings = { maxNewTokens: 6, temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, seed: 0, stopAtEos: false, stopStrings: [] };
    const held = model.generateVariants([1, 403, 407], settings, [{ plan: { interventions: [{ op: 'scale', hook: 'blocks.4.attn.hook_z', indices: [0], values: [0] }] } }]);
    const first = await held.next(); // the session is leased from here on
    expect(first.done).toBe(false);
    for (const positions of ['all', 'last', 'prompt', 'generated'] as const) {
      for (const layer of [0, 1, 2, 3]) await model.run([1, 2, 3], { interventions: [{ op: 'add', hook: `blocks.${layer}.hook_resid_mid`, vector: Array(64).fill(0.1), positions }] });
    }
    expect(model.sessionUsage().sessions).toBeLessThanOrEqual(8);
    let tokens = 1;
    for (let step = await held.next(); !step.done; step = await held.next()) tokens++;
    expect(tokens).toBe(6);
  });
});
