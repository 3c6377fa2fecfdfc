/**
 * Causal tracing against what it must give by construction: the same numbers for the
 * same seed, the clean probability back when the last block's output at the last position
 * is restored, nothing from restoring positions the noise never reaches, and no
 * corruption at all without noise.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { useRandomModel } from '../../test/fixtures/random-engine';
import { expectEngineError } from '../../test/expect-engine-error';
import { tracingResultSchema } from '../../../src-shared/analysis-schema';
import { causalTrace, traceWindow } from './tracing';

const loaded = useRandomModel('tracing', { config: 'HuggingFaceTB__SmolLM2-135M-Instruct', layers: 3, dModel: 64, dMlp: 128, nHeads: 4, nKvHeads: 2, dHead: 16, seed: 17 });
let ids: number[];

beforeAll(() => {
  ids = loaded.handle.tokenizer.encode('The Eiffel Tower is in the city of');
});

describe('causal tracing', () => {
  const subject = { start: 1, end: 4 };

  it('is reproducible with a seed, and another seed draws other noise', async () => {
    const first = await causalTrace(loaded.handle, { ids, subject, samples: 3, seed: 7 });
    const again = await causalTrace(loaded.handle, { ids, subject, samples: 3, seed: 7 });
    expect(again).toEqual(first);
    expect(tracingResultSchema.parse(first)).toEqual(first); // what experiment files keep
    const other = await causalTrace(loaded.handle, { ids, subject, samples: 3, seed: 8 });
    expect(other.corruptedProb).not.toBe(first.corruptedProb);
    expect(first.corruptedProb).not.toBeCloseTo(first.cleanProb, 4);
  });

  it('restores the clean probability from the last block at the last position, and nothing before the subject', async () => {
    const result = await causalTrace(loaded.handle, { ids, subject, samples: 2, batchSize: 7 });
    const last = result.layers.length - 1;
    expect(result.restoredProb[last][ids.length - 1]).toBeCloseTo(result.cleanProb, 5);
    for (const layer of result.layers) expect(result.indirectEffect[layer][0]).toBeCloseTo(0, 6); // position 0 never sees the noise
    expect(result.forwardPasses).toBe(1 + Math.ceil((2 + 2 * result.cells) / 7));
  });

  it('corrupts nothing without noise, and restores module outputs over a window', async () => {
    const silent = await causalTrace(loaded.handle, { ids, subject, samples: 1, noiseScale: 0 });
    expect(silent.corruptedProb).toBeCloseTo(silent.cleanProb, 6);
    const mlp = await causalTrace(loaded.handle, { ids, subject, samples: 2, kind: 'mlp', window: 2 });
    expect(mlp.restoredProb.flat().every(Number.isFinite)).toBe(true);
    expect(traceWindow(0, 'mlp', 10, 30)).toEqual([0, 1, 2, 3, 4]);
    expect(traceWindow(12, 'attn', 10, 30)).toEqual([7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
    expect(traceWindow(29, 'mlp', 10, 30)).toEqual([24, 25, 26, 27, 28, 29]);
    expect(traceWindow(5, 'hidden', 10, 30)).toEqual([5]);
  });

  it('names a subject outside the prompt, and stops when cancelled', async () => {
    await expectEngineError(() => causalTrace(loaded.handle, { ids, subject: { start: 2, end: 99 } }), 'bad_argument', 'subject.end: 99 is past the prompt');
    const abort = new AbortController();
    abort.abort();
    await expectEngineError(() => causalTrace(loaded.handle, { ids, subject }, { signal: abort.signal }), 'cancelled', 'causal tracing cancelled');
  });
});
