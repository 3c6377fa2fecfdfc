/**
 * Decode speed of quantized weights against float32, for the bench: the formats are loaded
 * side by side in one engine and decoded in alternating rounds, so a burst of load from
 * other processes on a shared machine slows them all alike instead of whichever ran then.
 */
import { Engine, weightOptionsLabel, type ModelHandle, type WeightOptions } from '../engine/api';

const ROUNDS = 5;
const PROMPT_TOKENS = 16;
const TOKENS_PER_ROUND = 16;

export interface FormatDecode {
  weights: string;
  /** Median milliseconds per decoded token over every round. */
  medianMs: number;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Per-token times of one round of greedy decoding (the prompt's prefill is not timed). */
async function decodeRound(model: ModelHandle): Promise<number[]> {
  const step = await model.createStepModel();
  try {
    let logits = await step.feed(Array.from({ length: PROMPT_TOKENS }, (_, i) => (i * 7919 + 13) % model.spec.dVocab));
    const times: number[] = [];
    for (let i = 0; i < TOKENS_PER_ROUND; i++) {
      let next = 0;
      for (let t = 1; t < logits.length; t++) if (logits[t] > logits[next]) next = t;
      const started = performance.now();
      logits = await step.feed([next]);
      times.push(performance.now() - started);
    }
    return times;
  } finally {
    await step.release();
  }
}

export async function alternatingDecode(path: string, cacheDir: string, threads: number, formats: WeightOptions[], log: (line: string) => void): Promise<FormatDecode[]> {
  const engine = Engine.create({ cacheDir, threads });
  try {
    const models: ModelHandle[] = [];
    for (const weights of formats) {
      log(`alternating decode: loading ${weightOptionsLabel(weights)}`);
      models.push(await engine.loadModel(path, { weights }));
    }
    const samples = models.map((): number[] => []);
    for (const model of models) await decodeRound(model); // warm-up: page faults, first-run allocations
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, model] of models.entries()) samples[i].push(...(await decodeRound(model)));
    }
    return models.map((model, i) => ({ weights: weightOptionsLabel(model.weights), medianMs: median(samples[i]) }));
  } finally {
    await engine.close();
  }
}

export const ALTERNATING_ROUNDS = ROUNDS;
export const ALTERNATING_TOKENS = TOKENS_PER_ROUND;
