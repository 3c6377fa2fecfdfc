/**
 * Causal tracing against what it must give by construction: the same numbers for the
 * same seed, the clean probability back when the last block's output at the last position
 * is restored, nothing from restoring positions the noise never reaches, and no
 * corruption at all without noise; and a cell's Compare variant (plain plan ops) giving
 * what the trace ran for its noise sample.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { useRandomModel } from '../../test/fixtures/random-engine';
import { expectEngineError } from '../../test/expect-engine-error';
import { tracingResultSchema } from '../../../src-shared/analysis-schema';
import { traceInterventions, traceWindow, type TraceSetup } from '../../../src-shared/trace-variant';
import { logitStats } from './distribution';
import { causalTrace } from './tracing';

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

  it('reruns noise sample 0 as a plain plan: noise alone gives the corrupted run, noise with a restore the cell', async () => {
    for (const kind of ['hidden', 'mlp'] as const) {
      const result = await causalTrace(loaded.handle, { ids, subject, samples: 1, seed: 5, kind, window: 2 });
      const setup: TraceSetup = { ids, subject, kind, window: 2, seed: 5, noiseStd: result.noiseStd, nLayers: result.layers.length, width: loaded.handle.spec.dModel };
      const answerProb = async (cell: { layer: number; position: number } | null): Promise<number> => {
        const { logits } = await loaded.handle.run(ids, { interventions: traceInterventions(setup, cell) });
        const last = logits[ids.length - 1];
        return Math.exp(last[result.answer] - logitStats(last).logSumExp);
      };
      // The random model's probabilities are ~2e-4, so relative: 1e-4 of it is far under 1e-5 absolute.
      const close = (actual: number, expected: number) => expect(Math.abs(actual - expected) / expected).toBeLessThan(1e-4);
      close(await answerProb(null), result.corruptedProb);
      for (const cell of [{ layer: 1, position: 2 }, { layer: 0, position: 3 }, { layer: 2, position: ids.length - 1 }]) {
        const restored = result.restoredProb[cell.layer][cell.position];
        expect(Math.abs(restored - result.corruptedProb) / result.corruptedProb).toBeGreaterThan(1e-2); // the restore matters here
        close(await answerProb(cell), restored);
      }
    }
  });
});
