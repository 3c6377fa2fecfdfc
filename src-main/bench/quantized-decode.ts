/**
 * Decode speed of quantized weights against float32, and of float32 against the memory
 * bandwidth probe, for the bench: the formats are loaded side by side in one engine and
 * decoded in alternating rounds, so a burst of load from other processes on a shared
 * machine slows them all alike instead of whichever ran then. The first format's round is
 * bracketed by two probe runs, so its share of the probe compares figures taken within a
 * second or two of each other.
 */
import { Engine, weightOptionsLabel, type ModelHandle, type WeightOptions } from '../engine/api';
import type { BandwidthProbe } from './probe';
import { median } from './stats';

const ROUNDS = 5;
const PROMPT_TOKENS = 16;
const TOKENS_PER_ROUND = 16;

export interface FormatDecode {
  weights: string;
  /** Median milliseconds per decoded token over every round. */
  medianMs: number;
  /** Median milliseconds per decoded token in each round. */
  roundMs: number[];
}

export interface AlternatingDecode {
  formats: FormatDecode[];
  /** Per round, the probe's GB/s just before and just after the first format's decode round. */
  probeGBps: [number, number][];
}

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

export async function alternatingDecode(path: string, cacheDir: string, options: { threads: number; spinning: boolean }, formats: WeightOptions[], probe: BandwidthProbe, log: (line: string) => void): Promise<AlternatingDecode> {
  const engine = Engine.create({ cacheDir, threads: options.threads, spinning: options.spinning });
  try {
    const models: ModelHandle[] = [];
    for (const weights of formats) {
      log(`alternating decode: loading ${weightOptionsLabel(weights)}`);
      models.push(await engine.loadModel(path, { weights }));
    }
    const rounds = models.map((): number[][] => []);
    const probeGBps: [number, number][] = [];
    await probe.run(); // warm-up: the probe's first pass, and each format's page faults and first-run allocations
    for (const model of models) await decodeRound(model);
    for (let round = 0; round < ROUNDS; round++) {
      log(`alternating decode: round ${round + 1} of ${ROUNDS}`);
      const before = await probe.run();
      for (const [i, model] of models.entries()) {
        rounds[i].push(await decodeRound(model));
        if (i === 0) probeGBps.push([before, await probe.run()]);
      }
    }
    return {
      formats: models.map((model, i) => ({ weights: weightOptionsLabel(model.weights), medianMs: median(rounds[i].flat()), roundMs: rounds[i].map(median) })),
      probeGBps,
    };
  } finally {
    await engine.close();
  }
}

export const ALTERNATING_ROUNDS = ROUNDS;
export const ALTERNATING_TOKENS = TOKENS_PER_ROUND;
