/**
 * What quantization costs in output quality, for the bench: the next-token distribution
 * of a quantized model against the float32 one at every position of a fixed text.
 *
 *   KL(f32 || q) = sum_t p_f32(t) (log p_f32(t) - log p_q(t))   per position, in nats
 *   top-1 agreement = share of positions whose argmax (greedy choice) is the same
 */
import { Engine, weightOptions, weightOptionsLabel, type WeightFormat, type WeightOptions } from '../engine/api';

/** A fixed English text; its first QUALITY_TOKENS tokens are scored. */
const TEXT =
  'Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends. One day, she found a big red ball under a tree. ' +
  'She picked it up and ran to show her mom. Her mom smiled and said, "What a nice ball! Let us play together." They played all afternoon until the sun went down, and then they went home happy.';
export const QUALITY_TOKENS = 64;

export interface QualityResult {
  model: string;
  /** The quantized weights' label, e.g. int8-b32-a4. */
  weights: string;
  positions: number;
  meanKl: number;
  maxKl: number;
  top1Agreement: number;
}

function logSoftmax(logits: Float32Array): Float64Array {
  let max = -Infinity;
  for (const x of logits) if (x > max) max = x;
  let sum = 0;
  for (const x of logits) sum += Math.exp(x - max);
  const logSum = max + Math.log(sum);
  return Float64Array.from(logits, (x) => x - logSum);
}

function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

export function klDivergence(reference: Float32Array, other: Float32Array): number {
  const p = logSoftmax(reference);
  const q = logSoftmax(other);
  let kl = 0;
  for (let i = 0; i < p.length; i++) kl += Math.exp(p[i]) * (p[i] - q[i]);
  return kl;
}

/** Score int8 and int4 (with `overrides`) against float32 on `path`. */
export async function measureQuality(name: string, path: string, cacheDir: string, threads: number, overrides: Partial<Omit<WeightOptions, 'format'>>): Promise<QualityResult[]> {
  const engine = Engine.create({ cacheDir, threads });
  try {
    const logitsOf = async (weights: WeightOptions): Promise<{ logits: Float32Array[]; ids: number[] }> => {
      const model = await engine.loadModel(path, { weights });
      try {
        const ids = model.tokenizer.encode(TEXT).slice(0, QUALITY_TOKENS);
        if (ids.length < QUALITY_TOKENS) throw new Error(`${name}: the quality text is only ${ids.length} tokens`);
        return { logits: await model.forward(ids, 'all'), ids };
      } finally {
        await model.unload();
      }
    };
    const f32 = await logitsOf(weightOptions('f32'));
    const results: QualityResult[] = [];
    for (const format of ['int8', 'int4'] as const) {
      const weights = weightOptions(format, overrides);
      const { logits } = await logitsOf(weights);
      const kls = logits.map((row, pos) => klDivergence(f32.logits[pos], row));
      const agree = logits.filter((row, pos) => argmax(row) === argmax(f32.logits[pos])).length;
      results.push({ model: name, weights: weightOptionsLabel(weights), positions: logits.length, meanKl: kls.reduce((a, b) => a + b, 0) / kls.length, maxKl: Math.max(...kls), top1Agreement: agree / logits.length });
    }
    return results;
  } finally {
    await engine.close();
  }
}
