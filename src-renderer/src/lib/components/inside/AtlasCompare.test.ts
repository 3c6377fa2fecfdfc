/**
 * The atlas comparison in the Inside tab: its form input, the summary and bars derived
 * from a record, and the changed-neuron table (layer filter, one click to a clamp
 * variant). The bar chart itself needs a canvas: the Playwright flow draws it.
 */
import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { afterEach, describe, expect, it } from 'vitest';
import { fakeWorkbenchApi } from '../../../test/fixtures';
import ChangedNeuronsHarness from '../../../test/ChangedNeuronsHarness.svelte';
import WithWorkbench from '../../../test/WithWorkbench.svelte';
import { agreementBars, changedRows, compareSummary, percent, type AtlasCompareRecord } from '../../logic/atlas-compare';
import { RECORD_KIND_LABEL, recordSummary } from '../../logic/inside';
import { Session } from '../../state/session.svelte';
import { Workbench } from '../../state/workbench.svelte';
import AnalysisForm from './AnalysisForm.svelte';

let bench: Workbench | null = null;
afterEach(() => {
  bench?.dispose();
  bench = null;
});

const top = (id: number, prob: number, score: number | null = null) => ({ id, prob, score });
/** Layers 0 and 1 of 4 neurons: layer 0 agrees fully, layer 1 on 2 neurons (1 and 3 changed). */
const record: AtlasCompareRecord = {
  kind: 'atlas_compare',
  id: 'analysis-3',
  createdAt: '2026-01-01T00:00:00Z',
  labels: { '380': '▁dog', '381': '▁cat', '5': 'x' },
  input: { otherPath: '/data/models/tiny-instruct', layer: null, matrix: 'up', finalNorm: true, normalise: 'none', limit: 1000 },
  request: { layers: null, matrix: 'up', finalNorm: true, normalise: 'none', limit: 1000, chunkSize: 256 },
  result: {
    layers: [0, 1], matrix: 'up', finalNorm: true, normalise: 'none', dMlp: 4,
    perLayer: [{ layer: 0, same: 4, agreement: 1 }, { layer: 1, same: 2, agreement: 0.5 }],
    same: 6, total: 8, agreement: 0.75,
    changed: [{ layer: 1, neuron: 1, base: top(380, 0.25), other: top(381, 0.125) }, { layer: 1, neuron: 3, base: top(5, 0.05), other: top(380, 0.5) }],
    changedCount: 2, decoded: 16, cached: 0, seconds: 1, warnings: [],
  },
};

describe('atlas comparison: what a record shows', () => {
  it('names the comparison, draws a bar per layer, and lists the changed neurons with both tokens', () => {
    expect(RECORD_KIND_LABEL.atlas_compare).toBe('Atlas comparison');
    expect(recordSummary(record)).toBe('75.0% vs tiny-instruct, all layers, up');
    expect(compareSummary({ ...record, input: { ...record.input, layer: 1, normalise: 'zscore' } })).toBe('75.0% vs tiny-instruct, layer 1, up, z-scored');
    expect(percent(0.754)).toBe('75.4%');
    expect(agreementBars(record)).toEqual({ labels: ['L0', 'L1'], layers: [0, 1], values: [100, 50] });
    expect(changedRows(record, null)).toEqual([
      { key: 'L1N1', layer: 1, neuron: 1, baseId: 380, base: '␣dog 25%', other: '␣cat 13%' },
      { key: 'L1N3', layer: 1, neuron: 3, baseId: 5, base: 'x 5.0%', other: '␣dog 50%' },
    ]);
    expect(changedRows(record, 0)).toEqual([]);
    const ranked = { ...record, result: { ...record.result, changed: [{ layer: 1, neuron: 1, base: top(380, 0.25, 3.21), other: top(381, 0.125, 2) }] } };
    expect(changedRows(ranked, 1)[0]).toMatchObject({ base: '␣dog 25% z 3.2', other: '␣cat 13% z 2.0' });
  });
});

describe('atlas comparison: changed neurons', () => {
  async function opened() {
    const { api } = fakeWorkbenchApi();
    bench = new Workbench(new Session(api, 'websocket'));
    await bench.start();
    render(ChangedNeuronsHarness, { props: { bench, record } });
    return bench;
  }
  const rowOf = (id: string) => screen.getAllByRole('row').find((row) => row.textContent?.startsWith(id)) as HTMLElement;

  it('clamps a changed neuron of the loaded model in a new Compare variant in one click', async () => {
    const workbench = await opened();
    expect(within(rowOf('L1N3')).getByText('␣dog 50%')).toBeTruthy();
    await fireEvent.input(screen.getByLabelText('Clamp value'), { target: { value: '7' } });
    await fireEvent.click(within(rowOf('L1N3')).getByRole('button', { name: 'Clamp' }));
    const variant = workbench.doc.variants.at(-1);
    expect(variant?.name).toBe('Clamp L1N3 = 7');
    expect(variant?.interventions.at(-1)).toMatchObject({ op: 'set', hook: 'blocks.1.mlp.hook_post', indices: [3], values: [7], positions: 'all' });
    expect(workbench.view).toBe('compare');
  });

  it('opens a changed neuron\'s clamp curve with the base model\'s top token and the experiment\'s prompt', async () => {
    const workbench = await opened();
    await fireEvent.click(within(rowOf('L1N1')).getByRole('button', { name: 'Curve' }));
    const panel = screen.getByRole('form', { name: 'Clamp curve of L1N1' });
    expect((within(panel).getByLabelText('Concept token') as HTMLInputElement).value).toBe('▁dog');
    expect((within(panel).getByLabelText('Prompt') as HTMLTextAreaElement).value).toBe(workbench.doc.prompt.text);
  });

  it('narrows the table to a layer, and says when a layer has no changed neuron', async () => {
    await opened();
    expect(screen.getAllByRole('row')).toHaveLength(3); // header + 2
    await fireEvent.change(screen.getByLabelText('Changed neurons of layer'), { target: { value: '0' } });
    expect(screen.getAllByRole('row')).toHaveLength(1);
    expect(screen.getByText('No listed neuron changed its top token in layer 0.')).toBeTruthy();
  });
});

describe('atlas comparison: the form', () => {
  it('runs a comparison with the typed model path, layer and ranking, and holds Run back without a path', async () => {
    const { api } = fakeWorkbenchApi();
    bench = new Workbench(new Session(api, 'websocket'));
    await bench.start();
    render(WithWorkbench, { props: { bench, component: AnalysisForm } });
    await fireEvent.click(screen.getByLabelText('Atlas comparison'));
    const run = screen.getByRole('button', { name: 'Run' }) as HTMLButtonElement;
    expect(run.disabled).toBe(true);
    await fireEvent.input(screen.getByLabelText('Other model path'), { target: { value: ' /data/models/tiny-instruct ' } });
    await fireEvent.input(screen.getByLabelText('Compared layer'), { target: { value: '1' } });
    await fireEvent.change(screen.getByLabelText('Compare tokens ranked by'), { target: { value: 'zscore' } });
    expect(run.disabled).toBe(false);
    await fireEvent.click(run);
    expect(api.analyse).toHaveBeenCalledWith({
      analysis: { kind: 'atlas_compare', input: { otherPath: '/data/models/tiny-instruct', layer: 1, matrix: 'up', normalise: 'zscore', finalNorm: true } },
    });
  });
});
