/** The sweep view's run: progress from 'sweep' events, Cancel, and the answer kept only from a finished sweep. */
import { describe, expect, it, vi } from 'vitest';
import type { SweepAnswer, WorkbenchEvent } from '../api/types';
import { fakeWorkbenchApi } from '../../test/fixtures';
import { SweepRun } from './sweep.svelte';

type SweepEvent = Extract<WorkbenchEvent, { type: 'sweep' }>;
const event = (sweepId: string, fields: Partial<SweepEvent>): SweepEvent => ({ type: 'sweep', sweepId, state: 'running', progress: null, answer: null, error: null, ...fields });
const answer: SweepAnswer = { hooks: ['blocks.1.hook_resid_post'], layers: [1], scales: [4], target: null, baseline: { text: 'a', generatedIds: [5], perplexity: 2, targetProb: null }, cells: [], forwardPasses: 3 };
const request = { promptIds: [1, 2], layers: [1], scales: [4], vectors: [[1, 0, 0, 0]], settings: {} };

describe('SweepRun', () => {
  it('shows progress, cancels by id, and keeps the previous answer when a sweep is cancelled', async () => {
    const { api } = fakeWorkbenchApi({ sweepVector: vi.fn(async () => ({ sweepId: 's1' })) });
    const sweep = new SweepRun(api);
    await sweep.run(request);
    expect(sweep.running).toEqual({ sweepId: 's1', progress: null });
    sweep.accept(event('other', { progress: { done: 9, total: 9, unit: 'cells' } })); // not this sweep
    sweep.accept(event('s1', { progress: { done: 2, total: 8, unit: 'cells' } }));
    expect(sweep.running?.progress).toEqual({ done: 2, total: 8, unit: 'cells' });
    await sweep.run(request); // one at a time
    expect(api.sweepVector).toHaveBeenCalledTimes(1);
    sweep.accept(event('s1', { state: 'done', answer }));
    expect(sweep.answer).toBe(answer);
    expect(sweep.running).toBeNull();

    await sweep.run(request);
    await sweep.cancel();
    expect(api.cancelSweep).toHaveBeenCalledWith({ sweepId: 's1' });
    sweep.accept(event('s1', { state: 'cancelled', error: { code: 'cancelled', message: 'sweep cancelled' } }));
    expect(sweep.running).toBeNull();
    expect(sweep.error).toBeNull();
    expect(sweep.answer).toBe(answer);
  });

  it('takes an end that arrives before the id, and reports a failure', async () => {
    const { api } = fakeWorkbenchApi({ sweepVector: vi.fn(async () => ({ sweepId: 's2' })) });
    const sweep = new SweepRun(api);
    const started = sweep.run(request);
    sweep.accept(event('s2', { state: 'error', error: { code: 'bad_argument', message: 'layer 9 is out of range' } }));
    await started;
    expect(sweep.running).toBeNull();
    expect(sweep.error).toBe('layer 9 is out of range');
  });
});
