import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { afterEach, describe, expect, it } from 'vitest';
import { fakeWorkbenchApi } from '../../../test/fixtures';
import AtlasHarness from '../../../test/AtlasHarness.svelte';
import WithWorkbench from '../../../test/WithWorkbench.svelte';
import type { AtlasRecord } from '../../logic/inside';
import { Session } from '../../state/session.svelte';
import { Workbench } from '../../state/workbench.svelte';
import AnalysisForm from './AnalysisForm.svelte';

let bench: Workbench | null = null;
afterEach(() => {
  bench?.dispose();
  bench = null;
});

const decoding = (top: number) => ({ ids: [top, 5], probs: [0.25, 0.01], entropy: 3, scores: null });
/** Layer 2's search for "▁dog": neuron 7 says it second-most (its own top token is "▁cat"); neuron 3 most. */
const atlas: AtlasRecord = {
  kind: 'atlas',
  id: 'analysis-2',
  createdAt: '2026-01-01T00:00:00Z',
  labels: { '380': '▁dog', '381': '▁cat', '5': 'x', '1': '<s>' },
  input: { layer: 2, top: 2, finalNorm: true, normalise: 'none', search: '▁dog', searchMatrix: 'up', text: 'My pet', limit: 50 },
  request: { layer: 2, top: 2, finalNorm: true, normalise: 'none', search: 380, searchMatrix: 'up', ids: [1, 9], limit: 50, chunkSize: 256 },
  result: {
    layers: [2], dMlp: 8, matrices: ['up', 'down'], top: 2, finalNorm: true, normalise: 'none',
    table: [{ layer: 2, neuron: 7, up: decoding(381), gate: null, down: decoding(5) }],
    search: { token: 380, matrix: 'up', neurons: [{ layer: 2, neuron: 3, up: decoding(380), gate: null, down: decoding(5), logit: 4, score: null, prob: 0.25, rank: 0 }, { layer: 2, neuron: 7, up: decoding(381), gate: null, down: decoding(5), logit: 3, score: null, prob: 0.1, rank: 1 }] },
    active: null, decoded: 16, cached: 0, seconds: 1, neuronsPerSecond: 16, graphRuns: 2,
  },
};

async function opened() {
  const { api } = fakeWorkbenchApi();
  bench = new Workbench(new Session(api, 'websocket'));
  await bench.start();
  render(AtlasHarness, { props: { bench, record: atlas } });
  return { api };
}

const rowOf = (id: string) => screen.getAllByRole('row').find((row) => row.textContent?.startsWith(id)) as HTMLElement;

describe('clamp curve panel', () => {
  it('opens from a search result with the searched token and the atlas prompt, and runs the curve as typed', async () => {
    const { api } = await opened();
    await fireEvent.click(within(rowOf('L2N7')).getByRole('button', { name: 'Curve' }));
    const panel = screen.getByRole('form', { name: 'Clamp curve of L2N7' });
    expect((within(panel).getByLabelText('Concept token') as HTMLInputElement).value).toBe('▁dog');
    expect((within(panel).getByLabelText('Prompt') as HTMLTextAreaElement).value).toBe('My pet');
    expect((within(panel).getByLabelText('Clamp values') as HTMLInputElement).value).toBe('0, 1, 2, 5, 10, 20');

    await fireEvent.input(within(panel).getByLabelText('Clamp values'), { target: { value: '0, 50, 500' } });
    await fireEvent.input(within(panel).getByLabelText('Reference text'), { target: { value: 'A dog barked' } });
    await fireEvent.click(within(panel).getByLabelText('Also average p over every position'));
    await fireEvent.click(within(panel).getByRole('button', { name: 'Run clamp curve' }));
    expect(api.analyse).toHaveBeenCalledWith({
      analysis: { kind: 'clamp_curve', input: { text: 'My pet', layer: 2, neuron: 7, token: '▁dog', values: [0, 50, 500], scale: 'max_activation', reference: 'A dog barked', average: true } },
    });
    expect(screen.getByRole('progressbar', { name: 'Analysis progress' })).toBeTruthy();
    expect(within(panel).getByRole('button', { name: 'Cancel' })).toBeTruthy();
  });

  it('takes the neuron\'s own top token from the layer table, holds Run back on values that are not numbers, and closes', async () => {
    await opened();
    await fireEvent.click(screen.getByLabelText('Layer table'));
    await fireEvent.click(within(rowOf('L2N7')).getByRole('button', { name: 'Curve' }));
    const panel = screen.getByRole('form', { name: 'Clamp curve of L2N7' });
    expect((within(panel).getByLabelText('Concept token') as HTMLInputElement).value).toBe('▁cat');
    await fireEvent.input(within(panel).getByLabelText('Clamp values'), { target: { value: '1, ten' } });
    expect(within(panel).getByText('"ten" is not a number: give values separated by commas, e.g. 0, 1, 5')).toBeTruthy();
    expect((within(panel).getByRole('button', { name: 'Run clamp curve' }) as HTMLButtonElement).disabled).toBe(true);
    await fireEvent.click(within(panel).getByRole('button', { name: 'Close the clamp curve panel' }));
    expect(screen.queryByRole('form', { name: 'Clamp curve of L2N7' })).toBeNull();
  });
});

describe('clamp curve in the new-analysis form', () => {
  it('takes the layer, neuron and token typed, names those outside the loaded model, and runs the curve', async () => {
    const { api } = fakeWorkbenchApi();
    bench = new Workbench(new Session(api, 'websocket'));
    await bench.start();
    render(WithWorkbench, { props: { bench, component: AnalysisForm } });
    await fireEvent.click(screen.getByLabelText('Clamp curve'));
    const run = screen.getByRole('button', { name: 'Run' }) as HTMLButtonElement;
    expect(run.disabled).toBe(true); // no concept token yet

    // The fixture's model: 5 layers, 8 neurons a layer, 512 tokens.
    await fireEvent.input(screen.getByLabelText('Clamped layer'), { target: { value: '5' } });
    await fireEvent.input(screen.getByLabelText('Clamped neuron'), { target: { value: '8' } });
    await fireEvent.input(screen.getByLabelText('Concept token'), { target: { value: '#512' } });
    expect(screen.getByText("layer 5 is outside the model's blocks (0..4)")).toBeTruthy();
    expect(screen.getByText("neuron 8 is outside the layer's MLP (0..7)")).toBeTruthy();
    expect(screen.getByText('#512 is outside the vocabulary (0..511)')).toBeTruthy();
    expect(screen.getByLabelText('Clamped layer').getAttribute('aria-invalid')).toBe('true');
    expect(run.disabled).toBe(true);

    await fireEvent.input(screen.getByLabelText('Clamped layer'), { target: { value: '2' } });
    await fireEvent.input(screen.getByLabelText('Clamped neuron'), { target: { value: '7' } });
    await fireEvent.input(screen.getByLabelText('Concept token'), { target: { value: '▁dog' } });
    await fireEvent.input(screen.getByLabelText('Clamp values'), { target: { value: '0, 5, 50' } });
    expect(screen.queryByText(/is outside/)).toBeNull();
    expect(run.disabled).toBe(false);
    await fireEvent.click(run);
    expect(api.analyse).toHaveBeenCalledWith({
      analysis: { kind: 'clamp_curve', input: { text: bench.doc.prompt.text, layer: 2, neuron: 7, token: '▁dog', values: [0, 5, 50], scale: 'max_activation', reference: null, average: false } },
    });
  });
});
