import { describe, expect, it } from 'vitest';
import { clampCurveSummary, clampDraft, clampFields, clampInput, curveSeries, curveX, indexIssue, parseClampValues, spansDecades, tokenIssue, valueAtX, type ClampCurveRecord } from './clamp-curve';
import { neuronClamp, RECORD_KIND_LABEL, recordSummary } from './inside';

/** A curve over multiples 0, 1, 10, 100 of a negative largest activation (-0.5), averaged over positions. */
const record: ClampCurveRecord = {
  kind: 'clamp_curve',
  id: 'analysis-3',
  createdAt: '2026-01-01T00:00:00Z',
  labels: { '1': '<s>', '380': '▁dog' },
  input: { text: 'My pet', layer: 2, neuron: 5, token: '▁dog', values: [0, 1, 10, 100], scale: 'max_activation', reference: null, average: true },
  request: { ids: [1, 9, 10], layer: 2, neuron: 5, token: 380, values: [0, 1, 10, 100], scale: 'max_activation', reference: null, average: true, batchSize: 64 },
  result: {
    hook: 'blocks.2.mlp.hook_post',
    maxActivation: -0.5,
    maxPosition: 1,
    baseline: { prob: 0.01, rank: 40, meanProb: 0.02 },
    points: [
      { value: -0, prob: 0.009, rank: 41, meanProb: 0.019 },
      { value: -0.5, prob: 0.01, rank: 40, meanProb: 0.02 },
      { value: -5, prob: 0.1, rank: 3, meanProb: 0.05 },
      { value: -50, prob: 0.7, rank: 0, meanProb: 0.4 },
    ],
    forwardPasses: 2,
    warnings: [],
  },
};

describe('clamp curve: values typed', () => {
  it('reads comma-separated numbers, negatives and exponents included', () => {
    expect(parseClampValues(' -2, 0,1e3 ,0.5')).toEqual({ values: [-2, 0, 1000, 0.5] });
  });

  it('names the part that is not a number, and an empty list', () => {
    expect(parseClampValues('1, x, 3')).toEqual({ error: '"x" is not a number: give values separated by commas, e.g. 0, 1, 5' });
    expect(parseClampValues('1,,3')).toMatchObject({ error: expect.stringContaining('"" is not a number') });
    expect(parseClampValues('  ')).toEqual({ error: 'give at least one value' });
  });

  it('offers a log axis only when the positive values span two decades', () => {
    expect(spansDecades([0, 1, 2, 5, 10, 20])).toBe(false);
    expect(spansDecades([0, 1, 10, 100])).toBe(true);
    expect(spansDecades([-1000, 0.5, 40])).toBe(false);
    expect(spansDecades([500])).toBe(false);
  });
});

describe('clamp curve: the neuron and token typed, and the request', () => {
  it('names a layer or neuron outside the model, or missing, as the engine would', () => {
    expect(indexIssue(4, 5, 'layer')).toBeNull();
    expect(indexIssue(5, 5, 'layer')).toBe("layer 5 is outside the model's blocks (0..4)");
    expect(indexIssue(-1, 8, 'neuron')).toBe("neuron -1 is outside the layer's MLP (0..7)");
    expect(indexIssue(1.5, 8, 'neuron')).toBe("neuron 1.5 is outside the layer's MLP (0..7)");
    expect(indexIssue(null, 8, 'neuron')).toBe('give a neuron (0..7)');
  });

  it('checks a #id against the vocabulary and leaves a vocabulary entry to the engine', () => {
    expect(tokenIssue('#511', 512)).toBeNull();
    expect(tokenIssue('#512', 512)).toBe('#512 is outside the vocabulary (0..511)');
    expect(tokenIssue('▁dog', 512)).toBeNull();
  });

  it('makes the request from the fields, and none while a field is missing or wrong', () => {
    const fields = { ...clampFields(clampDraft(2, 7, '▁dog', 'My pet')), values: '0, 5', reference: 'A dog' };
    expect(clampInput(fields, 2, 7, 512)).toEqual({ text: 'My pet', layer: 2, neuron: 7, token: '▁dog', values: [0, 5], scale: 'max_activation', reference: 'A dog', average: false });
    expect(clampInput({ ...fields, scale: 'absolute' }, 2, 7, 512)?.reference).toBeNull(); // a reference only scales multiples
    expect(clampInput({ ...fields, values: '0, x' }, 2, 7, 512)).toBeNull();
    expect(clampInput({ ...fields, token: '' }, 2, 7, 512)).toBeNull();
    expect(clampInput({ ...fields, token: '#600' }, 2, 7, 512)).toBeNull();
    expect(clampInput({ ...fields, text: '  ' }, 2, 7, 512)).toBeNull();
  });
});

describe('clamp curve: the chart', () => {
  it('draws multiples on x (not the negative clamp values), the mean, and the unclamped p flat across', () => {
    expect(curveX(record)).toEqual([0, 1, 10, 100]);
    const { series, dropped } = curveSeries(record, false);
    expect(dropped).toBe(0);
    expect(series.map((item) => [item.label, item.reference])).toEqual([
      ['p at the last position', false],
      ['mean p over positions', false],
      ['unclamped', true],
    ]);
    expect(series[0].points).toEqual([{ x: 0, y: 0.009 }, { x: 1, y: 0.01 }, { x: 10, y: 0.1 }, { x: 100, y: 0.7 }]);
    expect(series[1].points.map((point) => point.y)).toEqual([0.019, 0.02, 0.05, 0.4]);
    expect(series[2].points).toEqual([{ x: 0, y: 0.01 }, { x: 100, y: 0.01 }]);
  });

  it('leaves the points at x <= 0 off a log axis and says how many, sorting absolute values by x', () => {
    const absolute: ClampCurveRecord = {
      ...record,
      request: { ...record.request, scale: 'absolute', values: [50, -3, 0.1], average: false },
      result: { ...record.result, baseline: { ...record.result.baseline, meanProb: null }, points: [{ value: 50, prob: 0.5, rank: 0, meanProb: null }, { value: -3, prob: 0.001, rank: 90, meanProb: null }, { value: 0.1, prob: 0.01, rank: 40, meanProb: null }] },
    };
    const { series, dropped } = curveSeries(absolute, true);
    expect(dropped).toBe(1);
    expect(series.map((item) => item.label)).toEqual(['p at the last position', 'unclamped']);
    expect(series[0].points).toEqual([{ x: 0.1, y: 0.01 }, { x: 50, y: 0.5 }]);
    expect(series[1].points).toEqual([{ x: 0.1, y: 0.01 }, { x: 50, y: 0.01 }]);
  });

  it('turns a picked x into the clamp value the engine set, and that into a variant named with a rounded value', () => {
    expect(valueAtX(record, 10)).toBe(-5);
    expect(valueAtX(record, 3)).toBeNull();
    const cell = neuronClamp(2, 5, 0.07450000196695328);
    expect(cell.name).toBe('Clamp L2N5 = 0.0745');
    expect(cell.intervention).toEqual({ op: 'set', hook: 'blocks.2.mlp.hook_post', indices: [5], values: [0.07450000196695328], positions: 'all' });
  });
});

describe('clamp curve: the panel and the list', () => {
  it('starts a neuron\'s panel from its token and the prompt, with the multiples METHODS suggests', () => {
    expect(clampDraft(2, 5, '▁dog', 'My pet')).toEqual({ text: 'My pet', layer: 2, neuron: 5, token: '▁dog', values: [0, 1, 2, 5, 10, 20], scale: 'max_activation', reference: null, average: false });
  });

  it('names the curve in the list of analyses', () => {
    expect(RECORD_KIND_LABEL.clamp_curve).toBe('Clamp curve');
    expect(recordSummary(record)).toBe(clampCurveSummary(record));
    expect(recordSummary(record)).toBe('L2N5 → ▁dog on My pet');
  });
});
