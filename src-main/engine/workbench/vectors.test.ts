/** The vector library's Workbench methods on the shared stories260K model: extract, import, export, sweep. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { expectEngineError } from '../../test/expect-engine-error';
import { writeSaeFolder } from '../../test/fixtures/sae-folder';
import { sharedPath } from '../../test/shared-paths';
import { Workbench } from './workbench';
import type { WorkbenchEvent } from './protocol';
import type { SweepAnswer } from './vectors';

const dir = mkdtempSync(join(tmpdir(), 'tiller-workbench-vectors-'));
let workbench: Workbench;
const events: WorkbenchEvent[] = [];

beforeAll(async () => {
  workbench = new Workbench({ appDataDir: join(dir, 'app-data'), engine: { cacheDir: join(dir, 'cache') }, transport: 'ipc' });
  workbench.onEvent((event) => events.push(event));
  await workbench.loadModel({ path: sharedPath('models', 'stories260K-hf') });
});

afterAll(async () => {
  await workbench.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The event that ended sweep `sweepId`. */
async function sweepEnd(sweepId: string): Promise<Extract<WorkbenchEvent, { type: 'sweep' }>> {
  return vi.waitFor(
    () => {
      const event = events.find((item) => item.type === 'sweep' && item.sweepId === sweepId && item.state !== 'running');
      if (event?.type !== 'sweep') throw new Error(`sweep ${sweepId} has not ended`);
      return event;
    },
    { timeout: 20_000 },
  );
}

const positive = ['The happy dog played', 'She smiled with joy', 'What a lovely day'];
const negative = ['The sad dog cried', 'She frowned with grief', 'What a gloomy day'];

describe('vector library methods', () => {
  it('extracts one entry per hook with its norms, and exports them to a GGUF that imports back', async () => {
    const hooks = ['blocks.1.hook_resid_post', 'blocks.2.hook_resid_post'];
    const extracted = await workbench.extractVectors({ method: 'pca', positive, negative, hooks });
    expect(extracted.pairs).toBe(3);
    expect(extracted.entries.map((entry) => entry.hook)).toEqual(hooks);
    for (const entry of extracted.entries) {
      expect(entry.vector).toHaveLength(64);
      expect(entry.norm).toBeCloseTo(1, 5);
      expect(entry.relativeNorm).toBeGreaterThan(0);
    }
    const path = join(dir, 'mood.gguf');
    await workbench.exportVectors({ path, model: 'llama', label: 'mood', entries: extracted.entries.map(({ hook, vector }) => ({ hook, vector })), provenance: { method: 'pca' } });
    const imported = await workbench.importVectors({ path });
    expect(imported).toMatchObject({ format: 'gguf', model: 'llama', warnings: [] });
    expect(imported.entries.map((entry) => entry.hook)).toEqual(hooks);
    imported.entries[1].vector.forEach((value, i) => expect(value).toBeCloseTo(extracted.entries[1].vector[i], 6));
    expect(imported.metadata['tiller.method']).toBe('pca');
  });

  it('makes ActAdd entries, one per position of the padded pair, and a function vector entry from chosen heads', async () => {
    const actAdd = await workbench.actAddVector({ positive: 'Love', negative: 'I hate you', hook: 'blocks.2.hook_resid_pre' });
    expect(actAdd.positive).toHaveLength(actAdd.negative.length);
    expect(actAdd.entries.map((entry) => [entry.hook, entry.position])).toEqual(actAdd.positive.map((_, j) => ['blocks.2.hook_resid_pre', 1 + j]));
    expect(actAdd.entries[0].norm).toBe(0); // BOS lines up with BOS
    // One residual norm for the pair: every row's relative norm is its norm over it.
    const last = actAdd.entries[actAdd.entries.length - 1];
    expect(last.relativeNorm).toBeGreaterThan(0);
    for (const entry of actAdd.entries) expect(entry.relativeNorm).toBeCloseTo((entry.norm * (last.relativeNorm as number)) / last.norm, 6);
    const fv = await workbench.functionVector({ prompts: ['hot: cold, big: small, up:', 'fast: slow, in:'], heads: [{ layer: 1, head: 2 }, { layer: 3, head: 0 }], layer: 2 });
    expect(fv.entries).toHaveLength(1);
    expect(fv.entries[0].hook).toBe('blocks.2.hook_resid_post');
    expect(fv.entries[0].relativeNorm).toBeGreaterThan(0);
    expect(fv.entries[0].vector).toHaveLength(64);
    expect(fv.heads.map((head) => [head.layer, head.head])).toEqual([[1, 2], [3, 0]]);
    await expectEngineError(() => workbench.functionVector({ prompts: ['a'], heads: [] }), 'bad_argument', 'heads');
    await expectEngineError(() => workbench.actAddVector({ positive: '', negative: 'x', hook: 'blocks.2.hook_resid_pre' }), 'bad_argument', 'positive');
  });

  it("imports a real repeng control vector with each layer at its block's output", async () => {
    const imported = await workbench.importVectors({ path: sharedPath('interchange', 'gguf', 'repeng_kydux', 'stylish.gguf') });
    expect(imported.entries).toHaveLength(31);
    expect(imported.entries[0]).toMatchObject({ key: 'direction.1', hook: 'blocks.1.hook_resid_post' });
    expect(imported.entries[0].norm).toBeCloseTo(1, 4);
  });

  it('sweeps a vector over scales x layers with a target token given as text, reporting progress as sweep events', async () => {
    const { ids } = await workbench.tokenize({ text: 'Once upon a time' });
    const vector = Array.from({ length: 64 }, (_, i) => Math.sin(i));
    const { sweepId } = await workbench.sweepVector({ promptIds: ids, layers: [1, 3], scales: [0, 6], vectors: [vector], settings: { maxNewTokens: 5 }, target: ' happy' });
    const ended = await sweepEnd(sweepId);
    expect(ended.state).toBe('done');
    const answer = ended.answer as SweepAnswer;
    const progress = events.filter((event) => event.type === 'sweep' && event.sweepId === sweepId && event.state === 'running').map((event) => event.type === 'sweep' && event.progress);
    expect(progress.length).toBeGreaterThan(1);
    expect(progress.at(-1)).toEqual({ done: 4, total: 4, unit: 'cells' });
    expect(answer.target?.text).toBeDefined();
    expect(answer.cells.map((row) => row.map((cell) => [cell.layer, cell.scale]))).toEqual([[[1, 0], [1, 6]], [[3, 0], [3, 6]]]);
    expect(answer.cells[0][0].text).toBe(answer.baseline.text);
    expect(answer.cells[0][1].targetProb).toBeGreaterThan(0);
  });

  it('cancels a sweep: it ends with one cancelled event and no answer; a new sweep cancels the one running', async () => {
    const { ids } = await workbench.tokenize({ text: 'Once upon a time' });
    const request = { promptIds: ids, layers: [1, 2, 3], scales: [-4, 0, 4, 8], vectors: [Array.from({ length: 64 }, () => 0.1)], settings: { maxNewTokens: 8 } };
    const first = await workbench.sweepVector(request);
    await workbench.cancelSweep({ sweepId: first.sweepId });
    const cancelled = await sweepEnd(first.sweepId);
    expect(cancelled).toMatchObject({ state: 'cancelled', answer: null, error: { code: 'cancelled' } });
    const second = await workbench.sweepVector(request);
    const third = await workbench.sweepVector({ ...request, layers: [1], scales: [2] });
    expect((await sweepEnd(second.sweepId)).state).toBe('cancelled');
    expect((await sweepEnd(third.sweepId)).state).toBe('done');
    expect(events.filter((event) => event.type === 'sweep' && event.sweepId === second.sweepId && event.state !== 'running')).toHaveLength(1);
    await expectEngineError(() => workbench.cancelSweep({ sweepId: '' }), 'bad_argument', 'sweepId');
  });

  it("reads an SAE's top features per token on the prompt, and a feature's decoder row as a vector", async () => {
    const fixture = writeSaeFolder(join(dir, 'sae'), { hook: 'blocks.3.hook_resid_post', dIn: 64, dSae: 40, architecture: 'topk', k: 4 });
    const { ids } = await workbench.tokenize({ text: 'Once upon a time' });
    const read = await workbench.saeFeatures({ folder: fixture.folder, promptIds: ids, top: 3 });
    expect(read.sae).toMatchObject({ hook: 'blocks.3.hook_resid_post', dSae: 40, architecture: 'topk', k: 4 });
    expect(read.tokens.map((token) => token.id)).toEqual(ids);
    for (const token of read.tokens) expect(token.features.length).toBeLessThanOrEqual(3);
    const direction = await workbench.saeDirection({ folder: fixture.folder, feature: 7 });
    expect(direction.hook).toBe('blocks.3.hook_resid_post');
    direction.vector.forEach((value, i) => expect(value).toBe(fixture.W_dec[7 * 64 + i]));
    const wide = writeSaeFolder(join(dir, 'sae-wide'), { hook: 'blocks.3.hook_resid_post', dIn: 96, dSae: 4 });
    await expectEngineError(() => workbench.saeDirection({ folder: wide.folder, feature: 0 }), 'bad_argument', 'd_in is 96 but blocks.3.hook_resid_post of this model is 64 wide');
  });

  it('refuses with the reason', async () => {
    await expectEngineError(() => workbench.importVectors({ path: sharedPath('interchange', 'gguf', 'edge_cases', 'easysteer__hf-space__vectors__diffmean-1.gguf.lfs-pointer') }), 'bad_argument', 'Git LFS pointer');
    await expectEngineError(() => workbench.importVectors({ path: 'relative.gguf' }), 'bad_argument', 'absolute');
    await expectEngineError(() => workbench.exportVectors({ path: join(dir, 'x.gguf'), model: 'm', label: 'x', entries: [{ hook: 'blocks.0.hook_resid_post', vector: [1] }] }), 'bad_argument', "block 0's output");
    await expectEngineError(() => workbench.extractVectors({ positive, negative, hooks: ['blocks.7.hook_resid_post'] }), 'bad_argument', 'layer 7 is out of range');
  });
});
