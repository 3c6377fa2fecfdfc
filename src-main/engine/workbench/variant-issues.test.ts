/**
 * validateVariant's checks are generation's own (validatePlan, the schedule report and
 * the decoding strategy's candidate layers), so a variant without errors generates and
 * one with errors names the field, never an internal lens name.
 */
import { describe, expect, it } from 'vitest';
import { storiesSpec } from '../../test/fixtures/specs';
import { variantIssues } from './variant-issues';

// stories260K-like: 5 blocks, so hidden states 0..5, 5 the final layer.
const spec = storiesSpec();
const filled = (length: number, value = 0.5): number[] => Array.from({ length }, () => value);
const variant = (fields: object) => ({ id: 'v', name: 'V', ...fields });

describe('variantIssues', () => {
  it('refuses LFD candidate layer 0 (no block writes it, so it has no IKS), naming the field and layer', () => {
    const issues = variantIssues(spec, variant({ decoding: { strategy: 'lfd', candidateLayers: [3, 0] } }));
    expect(issues).toEqual([{ path: 'decoding.candidateLayers.1', message: expect.stringContaining('LFD candidate layer 0 is outside 1..4') }]);
    expect(issues[0].message).not.toContain('lens:');
  });

  it('refuses an LFD candidate at or past the final layer', () => {
    expect(variantIssues(spec, variant({ decoding: { strategy: 'lfd', candidateLayers: [2, 5] } }))).toEqual([
      { path: 'decoding.candidateLayers.1', message: expect.stringContaining('LFD candidate layer 5 is outside 1..4') },
    ]);
  });

  it('accepts DoLa premature layer 0, the embedding output, and warns that layers past the last are ignored as Hugging Face does', () => {
    expect(variantIssues(spec, variant({ decoding: { strategy: 'dola', layers: [0] } }))).toEqual([]);
    expect(variantIssues(spec, variant({ decoding: { strategy: 'dola', layers: [2, 7] } }))).toEqual([
      { path: 'decoding.layers.1', message: 'layer 7 is not a premature layer of this 5-block model (0..4): ignored, as Hugging Face does', severity: 'warning' },
    ]);
    expect(variantIssues(spec, variant({ decoding: { strategy: 'dola', layers: [5, 7] } }))).toEqual([
      { path: 'decoding.layers', message: expect.stringContaining('DoLa has no premature layer') },
    ]);
  });

  it('warns, without an error, about interventions in a block the schedule skips', () => {
    const interventions = [
      { op: 'add', hook: 'blocks.2.hook_resid_post', vector: filled(64) },
      { op: 'scale', hook: 'blocks.3.attn.hook_z', indices: [5], values: [0] },
      { op: 'schedule', blocks: [0, 1, 1, 2, 4] },
      { op: 'lens', layers: [2, 3] },
      { op: 'weight_delta', param: 'blocks.3.mlp.down_proj', u: filled(64), v: filled(172) },
    ];
    expect(variantIssues(spec, variant({ interventions }))).toEqual([
      { path: 'interventions.1', message: 'blocks.3.attn.hook_z is in block 3, which the schedule [0, 1, 1, 2, 4] skips: no effect', severity: 'warning' },
      { path: 'interventions.4', message: 'blocks.3.mlp.down_proj is in block 3, which the schedule [0, 1, 1, 2, 4] skips: no effect', severity: 'warning' },
    ]);
  });

  it('warns when LFD would read the lens of a skipped block, whose IKS is always 0', () => {
    const issues = variantIssues(spec, variant({ interventions: [{ op: 'schedule', blocks: [0, 1, 2, 4] }], decoding: { strategy: 'lfd' } }));
    expect(issues).toEqual([{ path: 'decoding.candidateLayers', message: expect.stringContaining('layer 4 is the output of block 3, which the schedule [0, 1, 2, 4] skips'), severity: 'warning' }]);
  });

  it('checks the decoding even when the plan has errors', () => {
    const issues = variantIssues(spec, variant({ interventions: [{ op: 'add', hook: 'blocks.9.hook_resid_post', vector: [1] }], decoding: { strategy: 'lfd', candidateLayers: [0] } }));
    expect(issues.map((issue) => issue.path)).toEqual(['interventions.0.hook', 'decoding.candidateLayers.0']);
    expect(issues.every((issue) => issue.severity === undefined)).toBe(true);
  });
});
