import { describe, expect, it } from 'vitest';
import { segmentStarts, sweepPasses } from './sweep-passes';

describe('sweep passes', () => {
  it('splits the blocks into at most three segments, evenly', () => {
    expect(segmentStarts(30)).toEqual([0, 10, 20]);
    expect(segmentStarts(5)).toEqual([0, 1, 3]);
    expect(segmentStarts(2)).toEqual([0, 1]);
    expect(segmentStarts(1)).toEqual([0]);
  });

  it('groups cells by segment, orders them by first patched position, and starts each pass at its earliest cell', () => {
    const cells = [0, 1, 2, 3].flatMap((layer) => [0, 1, 2].map((start) => ({ layer, start })));
    const passes = sweepPasses(cells, 4, [0, 2]);
    expect(passes.map(({ first, start, cells: batch }) => [first, start, batch.map((cell) => `${cell.layer}@${cell.start}`)])).toEqual([
      [0, 0, ['0@0', '1@0', '0@1', '1@1']],
      [0, 2, ['0@2', '1@2']],
      [2, 0, ['2@0', '3@0', '2@1', '3@1']],
      [2, 2, ['2@2', '3@2']],
    ]);
  });

  it('without segments, keeps the cells in order and runs every pass from the start', () => {
    const cells = [{ layer: 1, start: 2 }, { layer: 0, start: 0 }, { layer: 1, start: 0 }];
    expect(sweepPasses(cells, 2, null)).toEqual([
      { first: 0, start: 0, cells: cells.slice(0, 2) },
      { first: 0, start: 0, cells: cells.slice(2) },
    ]);
  });
});
