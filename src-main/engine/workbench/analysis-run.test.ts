/**
 * Inside-tab analyses through the Workbench: texts resolved to tokens, progress and the
 * record as events, cancel, export, and the record kept by an experiment file.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { expectEngineError } from '../../test/expect-engine-error';
import { sharedPath } from '../../test/shared-paths';
import { analysisRecordSchema, type AnalysisRecord } from '../../../src-shared/analysis-schema';
import { experimentSchema } from '../experiment/schema';
import type { WorkbenchEvent } from './protocol';
import { Workbench } from './workbench';

const dir = mkdtempSync(join(tmpdir(), 'tiller-analysis-run-'));
let workbench: Workbench;
const events: WorkbenchEvent[] = [];

beforeAll(async () => {
  workbench = new Workbench({ appDataDir: join(dir, 'app-data'), engine: { cacheDir: join(dir, 'cache'), threads: 1 }, transport: 'ipc' });
  workbench.onEvent((event) => events.push(event));
});

afterAll(async () => {
  await workbench.close();
  rmSync(dir, { recursive: true, force: true });
});

type AnalysisEvent = Extract<WorkbenchEvent, { type: 'analysis' }>;
const eventsOf = (analysisId: string): AnalysisEvent[] => events.filter((event): event is AnalysisEvent => event.type === 'analysis' && event.analysisId === analysisId);

async function finished(analysisId: string): Promise<AnalysisEvent> {
  return vi.waitFor(() => {
    const last = eventsOf(analysisId).find((event) => event.state !== 'running');
    if (!last) throw new Error(`analysis ${analysisId} has not finished`);
    return last;
  });
}

describe('analyses in the workbench', () => {
  it('needs a model', async () => {
    await expectEngineError(() => workbench.analyse({ analysis: { kind: 'lens', input: { text: 'x' } } }), 'bad_argument', 'no model is loaded');
  });

  it('runs the logit lens from text, with progress, and keeps the text of every token it names', async () => {
    await workbench.loadModel({ path: sharedPath('models', 'stories260K-hf') });
    const { analysisId } = await workbench.analyse({ analysis: { kind: 'lens', input: { text: 'Once upon a time', target: ',' } } });
    const end = await finished(analysisId);
    expect(end.state).toBe('done');
    expect(eventsOf(analysisId)[0]).toMatchObject({ state: 'running', progress: { done: 1, total: 1, unit: 'forward passes' } });
    const record = analysisRecordSchema.parse(end.record) as Extract<AnalysisRecord, { kind: 'lens' }>;
    expect(record.id).toBe(analysisId);
    expect(record.request.ids).toEqual([1, 403, 407, 261, 378]);
    expect(record.request.target).toBe(432);
    expect(record.labels['432']).toBe(',');
    for (const id of record.result.top1.flat()) expect(record.labels[String(id)]).toBeDefined();
  });

  it('runs a patching sweep, exports it, and an experiment file keeps it', async () => {
    const input = { clean: 'Lily had a cat', corrupted: 'Lily had a dog', answer: '#268', wrong: '#266' };
    const { analysisId } = await workbench.analyse({ analysis: { kind: 'patching', input } });
    const end = await finished(analysisId);
    expect(end.error).toBeNull();
    const record = analysisRecordSchema.parse(end.record) as Extract<AnalysisRecord, { kind: 'patching' }>;
    expect(record.result.effect).toHaveLength(5);
    expect(record.result.forwardPasses).toBeLessThan(record.result.cells);

    const csv = join(dir, 'sweep.csv');
    expect(await workbench.exportPatching({ path: csv, result: record.result })).toEqual({ path: csv, format: 'csv' });
    expect(readFileSync(csv, 'utf8').split('\n')[1]).toMatch(/^0,/);
    await expectEngineError(() => workbench.exportPatching({ path: join(dir, 'sweep.txt'), result: record.result }), 'bad_argument', '.csv or .safetensors');
    // An earlier export is replaced; another CSV never is (issue 11 item 6).
    expect(await workbench.exportPatching({ path: csv, result: record.result })).toEqual({ path: csv, format: 'csv' });
    const other = join(dir, 'accounts.csv');
    writeFileSync(other, 'name,balance\nann,3\n');
    await expectEngineError(() => workbench.exportPatching({ path: other, result: record.result }), 'bad_argument', 'not replacing', 'it is not a patching export');
    expect(readFileSync(other, 'utf8')).toBe('name,balance\nann,3\n');

    const path = join(dir, 'inside.tiller.json');
    const experiment = experimentSchema.parse({ format: 'tiller-experiment', version: 1, createdAt: 'x', updatedAt: 'x', model: null, prompt: { text: 'x' }, settings: {}, variants: [{ id: 'b', name: 'Baseline' }], analyses: [record] });
    await workbench.saveExperiment({ path, experiment });
    const reopened = await workbench.openExperiment({ path });
    expect(reopened.experiment.analyses).toEqual([record]);
  });

  it('traces a subject found in the text, keeping the request with its defaults', async () => {
    const { analysisId } = await workbench.analyse({ analysis: { kind: 'tracing', input: { text: 'Lily had a big dog. The dog was', subject: 'big dog', samples: 2 } } });
    const end = await finished(analysisId);
    const record = analysisRecordSchema.parse(end.record) as Extract<AnalysisRecord, { kind: 'tracing' }>;
    expect(record.request).toMatchObject({ subject: { start: 4, end: 7 }, samples: 2, noiseScale: 3, kind: 'hidden' });
    expect(record.result.restoredProb).toHaveLength(5);
    expect(record.labels[String(record.result.answer)]).toBeDefined();
  });

  it('keeps the attention pattern of every head', async () => {
    const { analysisId } = await workbench.analyse({ analysis: { kind: 'attention', input: { text: 'Once upon a time' } } });
    const record = analysisRecordSchema.parse((await finished(analysisId)).record) as Extract<AnalysisRecord, { kind: 'attention' }>;
    expect([record.result.patterns.length, record.result.heads, record.result.patterns[0][0].length]).toEqual([5, 8, 5]);
    expect(record.labels['403']).toBe('▁Once');
  });

  it('keeps an atlas layer, its search and the active neurons, with the text of every decoded token', async () => {
    const input = { layer: 1, top: 3, search: '#380', text: 'Once upon a time', limit: 4 };
    const { analysisId } = await workbench.analyse({ analysis: { kind: 'atlas', input } });
    const end = await finished(analysisId);
    expect(end.error?.message ?? null).toBeNull();
    expect(eventsOf(analysisId)[0]).toMatchObject({ state: 'running', progress: { unit: 'graph runs' } });
    const record = analysisRecordSchema.parse(end.record) as Extract<AnalysisRecord, { kind: 'atlas' }>;
    expect(record.request).toMatchObject({ layer: 1, top: 3, search: 380, ids: [1, 403, 407, 261, 378], limit: 4, finalNorm: true });
    expect(record.result.table).toHaveLength(record.result.dMlp);
    expect(record.result.search?.neurons).toHaveLength(4);
    expect(record.result.active?.neurons).toHaveLength(4);
    for (const id of record.result.table?.flatMap((entry) => [...entry.up.ids, ...(entry.gate?.ids ?? []), ...entry.down.ids]) ?? []) expect(record.labels[String(id)]).toBeDefined();
    expect(record.labels['380']).toBeDefined();
  });

  it('compares the loaded model\'s atlas with another model file\'s, loaded for the run only', async () => {
    const input = { otherPath: sharedPath('models', 'stories260K', 'stories260K.bin'), layer: 2, matrix: 'gate' as const };
    const { analysisId } = await workbench.analyse({ analysis: { kind: 'atlas_compare', input } });
    const end = await finished(analysisId);
    expect(end.error?.message ?? null).toBeNull();
    const record = analysisRecordSchema.parse(end.record) as Extract<AnalysisRecord, { kind: 'atlas_compare' }>;
    expect(record.request).toMatchObject({ layers: [2], matrix: 'gate', finalNorm: true, normalise: 'none', limit: 1000 });
    // The same weights in the llama2.c format: every neuron keeps its top token.
    expect(record.result.perLayer).toEqual([{ layer: 2, same: 172, agreement: 1 }]);
    expect((await workbench.status({})).model?.path).toContain('stories260K-hf'); // the loaded model is still the base
    const missing = await workbench.analyse({ analysis: { kind: 'atlas_compare', input: { otherPath: join(dir, 'no-such-model') } } });
    expect((await finished(missing.analysisId)).error?.code).toBe('not_found');
  });

  it('runs a clamp curve from text, and an experiment file keeps it beside a file written before clamp curves', async () => {
    const input = { text: 'Once upon a time', layer: 2, neuron: 7, token: ' b', values: [0, 10], average: true };
    const { analysisId } = await workbench.analyse({ analysis: { kind: 'clamp_curve', input } });
    const end = await finished(analysisId);
    expect(end.error?.message ?? null).toBeNull();
    expect(eventsOf(analysisId)[0]).toMatchObject({ state: 'running', progress: { done: 1, total: 1, unit: 'forward passes' } });
    const record = analysisRecordSchema.parse(end.record) as Extract<AnalysisRecord, { kind: 'clamp_curve' }>;
    expect(record.request).toMatchObject({ ids: [1, 403, 407, 261, 378], layer: 2, neuron: 7, scale: 'max_activation', reference: null, average: true, batchSize: 64 });
    expect(record.labels[String(record.request.token)]).toBe('▁b');
    expect(record.result.points.map((point) => point.value)).toEqual([0, 10 * record.result.maxActivation]);

    const before = { format: 'tiller-experiment', version: 1, createdAt: 'x', updatedAt: 'x', model: null, prompt: { text: 'x' }, settings: {}, variants: [{ id: 'b', name: 'Baseline' }] };
    const oldPath = join(dir, 'before-clamp.tiller.json');
    writeFileSync(oldPath, JSON.stringify(before));
    expect((await workbench.openExperiment({ path: oldPath })).experiment.analyses).toEqual([]);
    const path = join(dir, 'clamp.tiller.json');
    await workbench.saveExperiment({ path, experiment: experimentSchema.parse({ ...before, analyses: [record] }) });
    expect((await workbench.openExperiment({ path })).experiment.analyses).toEqual([record]);
    const bad = await workbench.analyse({ analysis: { kind: 'clamp_curve', input: { ...input, neuron: 999 } } });
    expect((await finished(bad.analysisId)).error?.message).toContain("neuron: neuron 999 is outside the layer's MLP (0..171)");
  });

  it('ends a cancelled analysis with a cancelled event, and a bad token with an error event', async () => {
    const { analysisId } = await workbench.analyse({ analysis: { kind: 'patching', input: { clean: 'Once upon a time', corrupted: 'Once upon a day', answer: '#268', wrong: '#266', site: 'z' } } });
    await workbench.cancelAnalysis({ analysisId });
    const end = await finished(analysisId);
    expect(end).toMatchObject({ state: 'cancelled', record: null, error: { code: 'cancelled' } });
    const bad = await workbench.analyse({ analysis: { kind: 'lens', input: { text: 'Once', target: ' dog' } } });
    const failed = await finished(bad.analysisId);
    expect(failed.state).toBe('error');
    expect(failed.error?.message).toContain('" dog" is not one token');
  });
});
