import { describe, expect, it } from 'vitest';
import type { AnalysisRecord, WorkbenchEvent } from '../api/types';
import { cellVariant, decodingText, fixed, lensExit, neuronClamp, patchColumnLabels, rankingText, recordSummary, type AtlasRecord, type PatchingRecord } from '../logic/inside';
import { fakeWorkbenchApi } from '../../test/fixtures';
import { ExperimentDocument } from './document.svelte';
import { InsideAnalyses } from './inside.svelte';
import { Notices } from './notices.svelte';

const patching: PatchingRecord = {
  kind: 'patching',
  id: 'analysis-1',
  createdAt: '2026-01-01T00:00:00Z',
  labels: { '1': '<s>', '317': '▁Lily', '280': '▁c', '400': '▁do' },
  input: { clean: 'Lily c', corrupted: 'Lily do', answer: '#5', wrong: '#6', site: 'resid_pre', direction: 'denoising', metric: 'logit_diff', positions: 'each', alignment: null },
  request: { clean: [1, 317, 280], corrupted: [1, 317, 400], answer: 5, wrong: 6, site: 'resid_pre', direction: 'denoising', metric: 'logit_diff', positions: 'each', batchSize: 32, alignment: null },
  result: {
    request: { clean: [1, 317, 280], corrupted: [1, 317, 400], answer: 5, wrong: 6, site: 'resid_pre', direction: 'denoising', metric: 'logit_diff', positions: 'each', batchSize: 32, alignment: null },
    layers: [0, 1],
    columnKind: 'position',
    columns: [0, 1, 2],
    effect: [[0, 0, 1], [0, -0.0001, 0.9]],
    value: [[0, 0, 2], [0, 0, 1.8]],
    clean: { value: 2, logitDiff: 2, answerProb: 0.5 },
    corrupted: { value: 0, logitDiff: 0, answerProb: 0.1 },
    forwardPasses: 2,
    cells: 6,
    warnings: [],
  },
};

describe('inside: patching cells as interventions', () => {
  it('patches the clean activation at the cell (denoising), naming the source prompt', () => {
    const cell = cellVariant(patching, 1, 2)!;
    expect(cell.name).toBe('Patch resid_pre L1 pos 2');
    expect(cell.intervention).toEqual({ op: 'patch', hook: 'blocks.1.hook_resid_pre', positions: [2], source: { prompt_ids: [1, 317, 280] } });
    expect(cell.origin).toEqual({ kind: 'patch-source', text: 'Lily c' });
  });

  it('takes the corrupted run when noising, and ablates a head for a head cell', () => {
    const noising = { ...patching, request: { ...patching.request, direction: 'noising' as const } };
    expect(cellVariant(noising, 0, 1)?.intervention).toMatchObject({ source: { prompt_ids: [1, 317, 400] } });
    const heads = { ...patching, request: { ...patching.request, site: 'z' as const }, result: { ...patching.result, columnKind: 'head' as const } };
    expect(cellVariant(heads, 1, 2)).toEqual({ name: 'Ablate L1H2', intervention: { op: 'scale', hook: 'blocks.1.attn.hook_z', indices: [2], values: [0], positions: 'all' }, origin: null });
  });

  it('patches aligned prompts of different lengths only where the paired positions are the same', () => {
    const longer = { ...patching.request, corrupted: [1, 9, 317, 400] };
    const fromEnd = { ...patching, request: { ...longer, alignment: 'end' as const } };
    expect(cellVariant(fromEnd, 1, 2)).toBeNull(); // clean 2 pairs with corrupted 3
    const fromStart = { ...patching, request: { ...longer, alignment: 'start' as const } };
    expect(cellVariant(fromStart, 1, 2)?.intervention).toMatchObject({ positions: [2] });
    const whole = { ...fromStart, result: { ...patching.result, columnKind: 'all_positions' as const, columns: [0] } };
    expect(cellVariant(whole, 0, 0)?.intervention).toMatchObject({ positions: [0, 1, 2] });
  });

  it('labels columns with visible tokens and never shows -0.00', () => {
    expect(patchColumnLabels(patching)).toEqual(['0 <s>', '1 ␣Lily', '2 ␣c']);
    expect(fixed(-0.0001, 2)).toBe('0.00');
    expect(fixed(-0.5, 2)).toBe('-0.50');
  });
});

describe('inside: atlas neurons', () => {
  const decoding = { ids: [380, 5], probs: [0.25, 0.0123], entropy: 3, scores: null };
  const atlas: AtlasRecord = {
    kind: 'atlas',
    id: 'analysis-2',
    createdAt: '2026-01-01T00:00:00Z',
    labels: { '380': '▁dog', '5': 'x' },
    input: { layer: 2, top: 2, finalNorm: true, normalise: 'none', search: '▁dog', searchMatrix: 'up', text: null, limit: 50 },
    request: { layer: 2, top: 2, finalNorm: true, normalise: 'none', search: 380, searchMatrix: 'up', ids: null, limit: 50, chunkSize: 256 },
    result: { layers: [2], dMlp: 1, matrices: ['up', 'down'], top: 2, finalNorm: true, normalise: 'none', table: [{ layer: 2, neuron: 0, up: decoding, gate: null, down: decoding }], search: null, active: null, decoded: 2, cached: 0, seconds: 1, neuronsPerSecond: 2, graphRuns: 2 },
  };

  it('clamps a neuron at mlp.hook_post, at every position, in a new variant', () => {
    expect(neuronClamp(3, 17, 8)).toEqual({ name: 'Clamp L3N17 = 8', intervention: { op: 'set', hook: 'blocks.3.mlp.hook_post', indices: [17], values: [8], positions: 'all' }, origin: null });
  });

  it('shows a decoded direction as its top tokens with percentages, and names what the atlas looked at', () => {
    expect(decodingText(atlas, decoding)).toBe('␣dog 25%, x 1.2%');
    expect(recordSummary(atlas)).toBe('layer 2, search ▁dog');
  });

  it('says what the token order is, and shows z-scores when ranked by them', () => {
    expect(rankingText('none', 64)).toBe('tokens ranked by logit');
    expect(rankingText('zscore', 64)).toContain("z-score: each token's logit against its mean and spread over the layer's 64 neurons");
    expect(decodingText(atlas, { ...decoding, scores: [4.123, -0.04] })).toBe('␣dog 25% z 4.1, x 1.2% z 0.0');
    const zscored = { ...atlas, input: { ...atlas.input, normalise: 'zscore' as const } };
    expect(recordSummary(zscored)).toBe('layer 2, z-scored, search ▁dog');
  });
});

describe('inside: lens rows as early exits', () => {
  const lens = (site: 'resid_post' | 'resid_pre' | 'mlp_out', finalNorm = true) => ({ request: { ids: [1, 2], site, finalNorm, target: null } }) as unknown as Parameters<typeof lensExit>[0];

  it('runs the blocks up to the one the row read and skips the rest', () => {
    expect(lensExit(lens('resid_post'), 2)).toEqual({ name: 'Exit after block 2', intervention: { op: 'schedule', blocks: [0, 1, 2] }, origin: null });
    expect(lensExit(lens('resid_pre'), 2)?.intervention).toEqual({ op: 'schedule', blocks: [0, 1] });
  });

  it('offers no exit where the row is not a block output through the final norm', () => {
    expect(lensExit(lens('resid_pre'), 0)).toBeNull();
    expect(lensExit(lens('mlp_out'), 1)).toBeNull();
    expect(lensExit(lens('resid_post', false), 1)).toBeNull();
  });
});

describe('inside: running analyses', () => {
  const analysisEvent = (state: 'running' | 'done' | 'error', record: AnalysisRecord | null = null): WorkbenchEvent => ({
    type: 'analysis',
    analysisId: 'analysis-1',
    state,
    progress: state === 'running' ? { done: 1, total: 2, unit: 'forward passes' } : null,
    record,
    error: state === 'error' ? { code: 'bad_argument', message: 'answer "x" is not one token' } : null,
  });

  it('follows progress, keeps the finished record in the document and shows it', async () => {
    const { api } = fakeWorkbenchApi();
    const doc = new ExperimentDocument();
    const inside = new InsideAnalyses(api, doc, new Notices());
    await inside.start({ kind: 'patching', input: patching.input });
    expect(api.analyse).toHaveBeenCalledWith({ analysis: { kind: 'patching', input: patching.input } });
    inside.accept(analysisEvent('running') as Extract<WorkbenchEvent, { type: 'analysis' }>);
    expect(inside.running?.progress).toEqual({ done: 1, total: 2, unit: 'forward passes' });
    await inside.cancel();
    expect(api.cancelAnalysis).toHaveBeenCalledWith({ analysisId: 'analysis-1' });
    inside.accept(analysisEvent('done', patching) as Extract<WorkbenchEvent, { type: 'analysis' }>);
    expect(inside.running).toBeNull();
    expect(doc.analyses).toEqual([patching]);
    expect(doc.dirty).toBe(true);
    expect(inside.selected?.id).toBe('analysis-1');
    expect(doc.toExperiment().analyses).toEqual([patching]);
    inside.remove('analysis-1');
    expect(inside.selected).toBeNull();
  });

  it('reports a failed analysis and runs nothing meanwhile', async () => {
    const { api } = fakeWorkbenchApi();
    const notices = new Notices();
    const inside = new InsideAnalyses(api, new ExperimentDocument(), notices);
    await inside.start({ kind: 'lens', input: { text: 'x' } });
    inside.accept(analysisEvent('error') as Extract<WorkbenchEvent, { type: 'analysis' }>);
    expect(inside.running).toBeNull();
    expect(notices.items[0]?.message).toContain('answer "x" is not one token');
  });
});
