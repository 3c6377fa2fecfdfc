import { describe, expect, it } from 'vitest';
import type { Experiment, Variant } from '../api/types';
import { folderOf, formatProbability, inFolder, formatStopStrings, formatCount, layerScoresLabel, parseStopStrings, rankedLayerScores, visibleToken } from './format';
import { columnsPerRow } from './layout';
import { seriesDash, seriesIndex } from './series';
import { formatIndexList, parseHeadList, parseIndexList, parseNumberList } from './indices';
import { checkVariant } from './issues';
import { formKindOf, headScale, neuronClamp, splitHook } from './interventions';
import { finishedExperiment } from './sanitize';
import { scaleFromSlider, sliderFromScale } from './scale';
import { moveIntervention, removeIntervention, uniqueName } from './variants';
import { newExperiment, newVariant } from './defaults';
import { hooksOf, MODEL } from '../../test/fixtures';

describe('index lists', () => {
  it('parses lists and ranges', () => {
    expect(parseIndexList('3, 7 10-12')).toEqual({ ok: true, value: [3, 7, 10, 11, 12] });
    expect(parseIndexList('')).toMatchObject({ ok: false });
    expect(parseIndexList('', { allowEmpty: true })).toEqual({ ok: true, value: [] });
    expect(parseIndexList('5-3')).toMatchObject({ ok: false, error: 'range 5-3 runs backwards' });
    expect(parseIndexList('1, 1')).toMatchObject({ ok: false, error: '1 is listed twice' });
    expect(parseIndexList('8', { max: 8 })).toMatchObject({ ok: false, error: '8 is out of range (0..7)' });
    expect(parseIndexList('-1')).toMatchObject({ ok: false });
  });
  it('formats runs compactly and round-trips', () => {
    expect(formatIndexList([3, 7, 10, 11, 12, 14, 15])).toBe('3, 7, 10-12, 14, 15');
    expect(parseIndexList(formatIndexList([0, 1, 2, 9]))).toEqual({ ok: true, value: [0, 1, 2, 9] });
  });
  it('parses heads as LAYER.HEAD within the model', () => {
    const model = { nLayers: 4, nHeads: 8 };
    expect(parseHeadList('1.2, 3.0 0.7', model)).toEqual({ ok: true, value: [{ layer: 1, head: 2 }, { layer: 3, head: 0 }, { layer: 0, head: 7 }] });
    expect(parseHeadList(' ', model)).toMatchObject({ ok: false, error: 'enter at least one head as LAYER.HEAD, e.g. 1.2' });
    expect(parseHeadList('1-2', model)).toMatchObject({ ok: false, error: '“1-2” is not a head as LAYER.HEAD, e.g. 1.2' });
    expect(parseHeadList('4.0', model)).toMatchObject({ ok: false, error: '4.0: block 4 is out of range (0..3)' });
    expect(parseHeadList('1.8', model)).toMatchObject({ ok: false, error: '1.8: head 8 is out of range (0..7)' });
    expect(parseHeadList('1.2 1.2', model)).toMatchObject({ ok: false, error: '1.2 is listed twice' });
  });
  it('parses number lists', () => {
    expect(parseNumberList('0.5, -2 1e-3')).toEqual({ ok: true, value: [0.5, -2, 0.001] });
    expect(parseNumberList('a')).toMatchObject({ ok: false });
  });
});

describe('scale slider', () => {
  it('is signed and log-scaled between 0.01 and 100', () => {
    expect(scaleFromSlider(0)).toBe(0);
    expect(scaleFromSlider(200)).toBe(100);
    expect(scaleFromSlider(-200)).toBe(-100);
    expect(scaleFromSlider(100)).toBe(1);
    expect(scaleFromSlider(1)).toBeCloseTo(0.0105, 4);
  });
  it('maps a scale back to the nearest slider position', () => {
    for (const scale of [4, -4, 0.5, 100, -0.01]) expect(scaleFromSlider(sliderFromScale(scale))).toBeCloseTo(scale, 1);
    expect(sliderFromScale(0)).toBe(0);
    expect(sliderFromScale(1e6)).toBe(200);
  });
});

describe('interventions', () => {
  it('names the form that edits each op', () => {
    expect(formKindOf(neuronClamp(2, [1], [0]))).toBe('clamp');
    expect(formKindOf(headScale(1, [0]))).toBe('heads');
    expect(formKindOf({ op: 'set', hook: 'blocks.0.hook_resid_post', indices: [0], values: [1], positions: 'all' })).toBe('json');
    expect(formKindOf({ op: 'lens', layers: [1] })).toBe('json');
    expect(splitHook('blocks.12.attn.hook_z')).toEqual({ layer: 12, site: 'attn.hook_z' });
    expect(splitHook('hook_embed')).toEqual({ layer: null, site: 'hook_embed' });
  });

  it('moves and removes ops with their vector origins', () => {
    const variant: Variant = {
      ...newVariant('v'),
      interventions: [neuronClamp(0, [1], [0]), { op: 'add', hook: 'blocks.1.hook_resid_post', vector: [1], scale: 1, positions: 'all' }, headScale(1, [0])],
      origins: { '1': { kind: 'embedding', token: 'do', tokenId: 400 } },
    };
    expect(moveIntervention(variant, 1, -1).origins).toEqual({ '0': { kind: 'embedding', token: 'do', tokenId: 400 } });
    expect(moveIntervention(variant, 1, 1).origins).toEqual({ '2': { kind: 'embedding', token: 'do', tokenId: 400 } });
    expect(removeIntervention(variant, 0).origins).toEqual({ '0': { kind: 'embedding', token: 'do', tokenId: 400 } });
    expect(removeIntervention(variant, 1).origins).toEqual({});
    expect(uniqueName('Variant 1', ['Variant 1', 'Variant 1 2'])).toBe('Variant 1 3');
  });
});

describe('issues', () => {
  it('checks what needs no engine', () => {
    const variant: Variant = { ...newVariant(''), interventions: [{ op: 'add', hook: 'blocks.0.hook_resid_post', vector: [1, 2], scale: 1, positions: 'all' }, { op: 'schedule', blocks: [0, 9] }] };
    expect(checkVariant(variant, MODEL, hooksOf(MODEL))).toEqual([
      { path: 'name', message: 'must not be empty' },
      { path: 'interventions.0.vector', message: 'has 2 values; blocks.0.hook_resid_post needs d_model = 4' },
      { path: 'interventions.1.blocks.1', message: 'block 9 is out of range (0..4)' },
    ]);
  });
  it('checks clamp and head indices against the model, and the values count', () => {
    const variant: Variant = { ...newVariant('v'), interventions: [neuronClamp(1, [2, 8], [1, 2, 3]), headScale(7, [4])] };
    expect(checkVariant(variant, MODEL, hooksOf(MODEL))).toEqual([
      { path: 'interventions.0.values', message: 'has 3 values for 2 indices; give one per index, or one for all' },
      { path: 'interventions.0.indices', message: 'neuron 8 is out of range (0..7)' },
      { path: 'interventions.1.indices', message: 'head 4 is out of range (0..3)' },
      { path: 'interventions.1.hook', message: 'block 7 is out of range (0..4)' },
    ]);
    expect(checkVariant(variant, null, [])).toEqual([{ path: 'interventions.0.values', message: 'has 3 values for 2 indices; give one per index, or one for all' }]);
  });
});

describe('compare layout', () => {
  it('fits as many columns as the width allows and balances the rows', () => {
    expect(columnsPerRow(1, 1000)).toBe(1);
    expect(columnsPerRow(2, 1068)).toBe(2);
    expect(columnsPerRow(4, 1068)).toBe(4);
    expect(columnsPerRow(6, 1068)).toBe(3); // 3 + 3, not 4 + 2
    expect(columnsPerRow(5, 1068)).toBe(3); // 3 + 2
    expect(columnsPerRow(6, 650)).toBe(2);
    expect(columnsPerRow(3, 200)).toBe(1);
    expect(columnsPerRow(5, 0)).toBe(5); // not measured yet
  });
});

describe('series colours', () => {
  it('keep grey for the baseline alone and dot the second lap of colours', () => {
    expect(Array.from({ length: 16 }, (_, i) => seriesIndex(i))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 1, 2, 3, 4, 5, 6, 7, 1]);
    expect(seriesDash(0)).toEqual([4, 3]);
    expect(seriesDash(7)).toEqual([]);
    expect(seriesDash(8)).toEqual([1, 3]);
  });
});

describe('autosave of an unfinished experiment', () => {
  it('leaves out unfinished ops and keeps origins aligned', () => {
    const experiment: Experiment = { ...newExperiment(null), updatedAt: 'now' } as Experiment;
    experiment.variants.push({
      ...newVariant('steer'),
      interventions: [{ op: 'add', hook: 'h', vector: [], scale: 1, positions: 'all' }, { op: 'add', hook: 'h', vector: [1], scale: 1, positions: 'all' }],
      origins: { '1': { kind: 'embedding', token: 'x', tokenId: 5 } },
    });
    const finished = finishedExperiment(experiment);
    expect(finished.variants[1].interventions).toEqual([{ op: 'add', hook: 'h', vector: [1], scale: 1, positions: 'all' }]);
    expect(finished.variants[1].origins).toEqual({ '0': { kind: 'embedding', token: 'x', tokenId: 5 } });
  });
});

describe('formatting', () => {
  it('formats counts, tokens and stop strings', () => {
    expect(formatCount(260_000)).toBe('260K');
    expect(formatCount(1_100_000_000)).toBe('1.1B');
    expect(visibleToken(' a\n')).toBe('␣a⏎');
    expect(visibleToken('\u2581with')).toBe('␣with'); // SentencePiece's space marker, as in top-k lists
    expect([0.999, 0.0786, 1e-4, 5e-5, 2e-6].map((p) => formatProbability(Math.log(p)))).toEqual(['99.9%', '7.86%', '0.01%', '0.005%', '<0.001%']);
    const stops = ['\n\n', 'The end', 'a\\b'];
    expect(parseStopStrings(formatStopStrings(stops))).toEqual(stops);
  });
  it('ranks lens scores by each strategy’s rule and marks the layer used', () => {
    expect(rankedLayerScores({ strategy: 'lfd', layer: 3, scores: { 3: 0.089, 4: 0.11, 2: 0.3 } }, 2)).toEqual([
      { layer: 3, score: 0.089, chosen: true },
      { layer: 4, score: 0.11, chosen: false },
    ]);
    expect(rankedLayerScores({ strategy: 'dola', layer: 2, scores: { 2: 0.607, 4: 0.113 } }).map((item) => item.layer)).toEqual([2, 4]);
    expect(layerScoresLabel('lfd')).toMatch(/lowest/);
  });
  it('takes the folder of a path', () => {
    expect(folderOf('/a/b/c.tiller.json')).toBe('/a/b/');
    expect(folderOf('C:\\x\\y.json')).toBe('C:\\x\\');
    expect(folderOf('bare.json')).toBe('');
  });
  it('puts a file in a folder with the folder’s own separator', () => {
    expect(inFolder('/home/me', 'a.tiller.json')).toBe('/home/me/a.tiller.json');
    expect(inFolder('/home/me/', 'a.tiller.json')).toBe('/home/me/a.tiller.json');
    expect(inFolder('C:\\Users\\me\\Documents', 'a.tiller.json')).toBe('C:\\Users\\me\\Documents\\a.tiller.json');
    expect(inFolder('', 'a.tiller.json')).toBe('a.tiller.json');
  });
});
