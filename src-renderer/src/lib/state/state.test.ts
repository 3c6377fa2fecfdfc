import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ExperimentResults, WorkbenchEvent } from '../api/types';
import { newExperiment } from '../logic/defaults';
import { token } from '../../test/fixtures';
import { ExperimentDocument } from './document.svelte';
import { LiveRun } from './run.svelte';

describe('live run', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  const results = (runId: string): Extract<WorkbenchEvent, { type: 'done' }> => ({
    type: 'done',
    runId,
    results: {
      ranAt: '2026-01-01T00:00:00Z',
      provider: 'cpu',
      promptIds: [1],
      variants: [
        { variantId: 'a', tokens: [token(5, 'x', -1)], text: 'x', stopReason: 'max_tokens', tokensPerSecond: 10 },
        { variantId: 'b', tokens: [token(6, 'y', -2)], text: 'y', stopReason: 'max_tokens', tokensPerSecond: 10 },
      ],
    },
  });

  it('keeps events that arrive before generate() answers, and drops other runs’ events', () => {
    const run = new LiveRun();
    run.begin(['a', 'b'], 4);
    run.accept({ type: 'token', runId: 'r1', variant: 1, index: 0, token: token(6, 'y', -2) });
    run.accept({ type: 'token', runId: 'old', variant: 0, index: 0, token: token(9, 'z', -2) });
    expect(run.attach('r1')).toBeNull();
    expect(run.phase).toBe('running');
    vi.advanceTimersByTime(50);
    expect(run.tokens).toEqual([[], [token(6, 'y', -2)]]);
    run.accept({ type: 'token', runId: 'old', variant: 0, index: 1, token: token(9, 'z', -2) });
    run.accept({ type: 'token', runId: 'r1', variant: 0, index: 0, token: token(5, 'x', -1) });
    vi.advanceTimersByTime(50);
    expect(run.tokens[0]).toEqual([token(5, 'x', -1)]);
    expect(run.produced).toBe(2);
  });

  it('returns the results when its run is done', () => {
    const run = new LiveRun();
    run.begin(['a', 'b'], 4);
    run.attach('r1');
    expect(run.accept(results('other'))).toBeNull();
    const done = run.accept(results('r1')) as ExperimentResults;
    expect(done.variants.map((variant) => variant.variantId)).toEqual(['a', 'b']);
    expect(run.phase).toBe('finished');
    expect(run.showing).toBe(true);
    run.settle();
    expect(run.showing).toBe(false);
  });

  it('ends as cancelled or failed', () => {
    const run = new LiveRun();
    run.begin(['a'], 4);
    run.attach('r1');
    run.accept({ type: 'error', runId: 'r1', error: { code: 'cancelled', message: 'stopped' } });
    expect(run.phase).toBe('cancelled');
    run.begin(['a'], 4);
    run.fail('no model loaded');
    expect(run.phase).toBe('failed');
    expect(run.error).toBe('no model loaded');
  });
});

describe('experiment document', () => {
  it('tracks unsaved changes against the last save', () => {
    const doc = new ExperimentDocument();
    doc.load({ ...newExperiment(null), updatedAt: 'x' }, '/data/a.tiller.json');
    expect(doc.dirty).toBe(false);
    doc.setPromptText('Hello');
    expect(doc.dirty).toBe(true);
    doc.markSaved('/data/a.tiller.json');
    expect(doc.dirty).toBe(false);
    doc.setResults({ ranAt: 'now', provider: 'cpu', promptIds: [], variants: [] }, null);
    expect(doc.dirty).toBe(true);
  });

  it('adds, duplicates and removes variants but keeps the baseline', () => {
    const doc = new ExperimentDocument();
    const added = doc.addVariant();
    expect(doc.variants.map((variant) => variant.name)).toEqual(['Baseline', 'Variant 1']);
    const copy = doc.duplicateVariant(added);
    expect(doc.variants[copy].name).toBe('Variant 1 copy');
    expect(doc.variants[copy].id).not.toBe(doc.variants[added].id);
    doc.removeVariant(0);
    expect(doc.variants).toHaveLength(3);
    doc.removeVariant(1);
    expect(doc.variants.map((variant) => variant.name)).toEqual(['Baseline', 'Variant 1 copy']);
  });

  it('gives a plain experiment with its results to save', () => {
    const doc = new ExperimentDocument();
    const model = { path: '/m', format: 'huggingface' as const, architecture: 'LlamaForCausalLM', fingerprint: 'f' };
    doc.setResults({ ranAt: 'now', provider: 'cpu', promptIds: [1], variants: [] }, model);
    const saved = doc.toExperiment(new Date('2026-02-03T04:05:06Z'));
    expect(saved.updatedAt).toBe('2026-02-03T04:05:06.000Z');
    expect(saved.results).toEqual({ ranAt: 'now', provider: 'cpu', promptIds: [1], variants: [] });
    expect(saved.model).toEqual(model); // results and the model that made them go together
    expect(JSON.parse(JSON.stringify(saved))).toEqual(saved);
  });

  it('takes the loaded model without becoming dirty while untouched', () => {
    const doc = new ExperimentDocument();
    doc.setModel({ path: '/m', format: 'huggingface', architecture: 'LlamaForCausalLM', fingerprint: 'f' });
    expect(doc.dirty).toBe(false);
    doc.setName('x');
    doc.setModel(null);
    expect(doc.dirty).toBe(true);
  });

  it('never moves results to another model by setModel', () => {
    const doc = new ExperimentDocument();
    doc.setResults({ ranAt: 'now', provider: 'cpu', promptIds: [1], variants: [] }, { path: '/a', format: 'llama2c', architecture: 'Llama2c', fingerprint: 'a' });
    expect(() => doc.setModel({ path: '/b', format: 'llama2c', architecture: 'Llama2c', fingerprint: 'b' })).toThrow(/results/);
    expect(doc.model?.fingerprint).toBe('a');
  });
});
