import { describe, expect, it } from 'vitest';
import { formatHeads, scoresHeads, topPatchedHeads } from './heads';
import { parseHeadList } from './indices';
import type { PatchingRecord } from './inside';
import { headPatchingRecord as headsRecord } from '../../test/fixtures';

describe('heads from a patching sweep per head', () => {
  it('takes the heads that restore the answer most, largest first, in the heads field form', () => {
    const top = topPatchedHeads(headsRecord, 3);
    expect(top).toEqual([{ layer: 1, head: 0, effect: 0.7 }, { layer: 2, head: 1, effect: 0.69 }, { layer: 2, head: 0, effect: 0.3 }]);
    expect(formatHeads(top)).toBe('1.0, 2.1, 2.0');
    expect(parseHeadList(formatHeads(top), { nLayers: 3, nHeads: 2 })).toEqual({ ok: true, value: top.map(({ layer, head }) => ({ layer, head })) });
  });

  it('suggests nothing from a sweep over positions', () => {
    const positions: PatchingRecord = { ...headsRecord, result: { ...headsRecord.result, columnKind: 'position' } };
    expect(scoresHeads(positions)).toBe(false);
    expect(topPatchedHeads(positions, 3)).toEqual([]);
  });
});
