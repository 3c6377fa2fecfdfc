import { describe, expect, it } from 'vitest';
import type { Experiment, Variant } from '../api/types';
import { formatStopStrings, formatCount, parseStopStrings, visibleToken } from './format';
import { formatIndexList, parseIndexList, parseNumberList } from './indices';
import { checkVariant, normalizePath } from './issues';
import { formKindOf, headScale, neuronClamp, splitHook } from './interventions';
import { finishedExperiment } from './sanitize';
import { scaleFromSlider, sliderFromScale } from './scale';
import { moveIntervention, removeIntervention, uniqueName } from './variants';
import { newExperiment, newVariant } from './defaults';
import { MODEL } from '../../test/fixtures';

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
  it('normalises bracketed paths to the dotted form', () => {
    expect(normalizePath('interventions[0].source.prompt_ids[1]')).toBe('interventions.0.source.prompt_ids.1');
  });
  it('checks what needs no engine', () => {
    const variant: Variant = { ...newVariant(''), interventions: [{ op: 'add', hook: 'blocks.0.hook_resid_post', vector: [1, 2], scale: 1, positions: 'all' }, { op: 'schedule', blocks: [0, 9] }] };
    expect(checkVariant(variant, MODEL)).toEqual([
      { path: 'name', message: 'must not be empty' },
      { path: 'interventions.0.vector', message: "has 2 values; this model's d_model is 4" },
      { path: 'interventions.1.blocks.1', message: 'block 9 is out of range (0..4)' },
    ]);
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
    const stops = ['\n\n', 'The end', 'a\\b'];
    expect(parseStopStrings(formatStopStrings(stops))).toEqual(stops);
  });
});
