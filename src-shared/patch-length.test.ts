import { describe, expect, it } from 'vitest';
import { patchLengthIssues, patchLengthWarning } from './patch-length';

describe('patch source length against the prompt', () => {
  it('says nothing when the lengths agree, the positions are explicit or named otherwise, or a side is empty', () => {
    expect(patchLengthWarning('all', 5, 5)).toBeNull();
    expect(patchLengthWarning([0, 1], 9, 5)).toBeNull();
    expect(patchLengthWarning('prompt', 9, 5)).toBeNull();
    expect(patchLengthWarning('all', 0, 5)).toBeNull();
  });

  it('warns that a longer source overwrites generated positions, and aligns to the prompt', () => {
    const warning = patchLengthWarning('all', 7, 5);
    expect(warning?.message).toMatch(/generated at positions 5–6 would take the source prompt's activations/);
    expect(warning?.alignment).toEqual([0, 1, 2, 3, 4]);
    expect(warning?.alignmentLabel).toBe('0-4');
  });

  it('warns that a shorter source leaves the rest unpatched, and aligns to the source', () => {
    const warning = patchLengthWarning('all', 1, 5);
    expect(warning?.message).toMatch(/only positions 0 are patched/);
    expect(warning?.alignment).toEqual([0]);
  });

  it('locates the warnings of a plan’s patches, for the engine to report when generating', () => {
    const issues = patchLengthIssues(
      [
        { op: 'patch', hook: 'blocks.1.hook_resid_pre', positions: 'all', source: { prompt_ids: [1, 2, 3, 4, 5, 6, 7] } },
        { op: 'patch', hook: 'blocks.1.hook_resid_pre', positions: [0, 1], source: { prompt_ids: [1, 2] } },
        { op: 'patch', hook: 'blocks.2.hook_resid_pre', positions: 'all', source: { values: [[1]] } },
      ],
      5,
    );
    expect(issues).toEqual([{ path: 'interventions[0].positions', message: expect.stringMatching(/positions 5–6 would take .* Explicit positions 0-4 patch only those both have\.$/) }]);
  });
});
