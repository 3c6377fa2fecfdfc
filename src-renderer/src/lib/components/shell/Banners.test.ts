import { fireEvent, render, screen } from '@testing-library/svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Experiment, ModelInfo } from '../../api/types';
import { modelRefOf, newExperiment } from '../../logic/defaults';
import { IDLE, MODEL, fakeWorkbenchApi, token } from '../../../test/fixtures';
import WithWorkbench from '../../../test/WithWorkbench.svelte';
import { Session } from '../../state/session.svelte';
import { Workbench } from '../../state/workbench.svelte';
import Banners from './Banners.svelte';

const OTHER = { ...MODEL, path: '/models/other', architecture: 'Qwen2ForCausalLM', fingerprint: 'other-fp' };

let bench: Workbench | null = null;
afterEach(() => {
  bench?.dispose();
  bench = null;
});

/** An experiment with results of MODEL, open while OTHER is loaded. */
async function staleResults() {
  const base = newExperiment(modelRefOf(MODEL));
  const experiment: Experiment = {
    ...base,
    results: { ranAt: '2026-01-01T00:00:00.000Z', provider: 'cpu', promptIds: [1], variants: [{ variantId: base.variants[0].id, tokens: [token(5, 'x', -1)], text: 'x', stopReason: 'max_tokens', tokensPerSecond: 10 }] },
  };
  const { api } = fakeWorkbenchApi({ status: vi.fn(async () => ({ ...IDLE, model: OTHER })) });
  bench = new Workbench(new Session(api, 'websocket'));
  await bench.start();
  bench.doc.load(experiment, '/runs/a.tiller.json');
  return { bench, api };
}

describe('banners', () => {
  it('marks results of another model as theirs, offers to load it back or to discard them', async () => {
    const { bench, api } = await staleResults();
    render(WithWorkbench, { props: { bench, component: Banners } });
    expect(screen.getByText('The results on screen were made with another model.')).toBeTruthy();
    expect(screen.getByText(MODEL.path)).toBeTruthy();
    await fireEvent.click(screen.getByRole('button', { name: `Load ${MODEL.architecture}` }));
    await vi.waitFor(() => expect(api.loadModel).toHaveBeenCalledWith(expect.objectContaining({ path: MODEL.path })));
  });

  it('asks before discarding them', async () => {
    const { bench } = await staleResults();
    render(WithWorkbench, { props: { bench, component: Banners } });
    await fireEvent.click(screen.getByRole('button', { name: 'Discard results…' }));
    expect(bench.dialogs.confirmation?.title).toBe('Discard these results?');
    expect(bench.doc.results).not.toBeNull();
  });

  it('says "other weights" when the results’ model is loaded with weights in another format', async () => {
    const base = newExperiment(modelRefOf(MODEL));
    const experiment: Experiment = { ...base, results: { ranAt: '2026-01-01T00:00:00.000Z', provider: 'cpu', promptIds: [1], variants: [] } };
    const int4: ModelInfo = { ...MODEL, weights: { format: 'int4', blockSize: 32, accuracyLevel: 4 } };
    const { api } = fakeWorkbenchApi({ status: vi.fn(async () => ({ ...IDLE, model: int4 })) });
    bench = new Workbench(new Session(api, 'websocket'));
    await bench.start();
    bench.doc.load(experiment, '/runs/a.tiller.json');
    render(WithWorkbench, { props: { bench, component: Banners } });
    expect(screen.getByText('The results on screen were made with other weights.')).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Load with float32 weights' })).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Discard results…' })).toBeTruthy();
  });
});
