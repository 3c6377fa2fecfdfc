import { EngineError } from '../errors';
import { isSeed, SeededRng as SharedSeededRng } from '../../../src-shared/seeded-rng';

/** The only thing samplers need from a random source. */
export interface Rng {
  /** A uniform float in [0, 1). */
  nextFloat(): number;
}

/**
 * The shared seeded generator (src-shared/seeded-rng.ts: mulberry32 over an fmix32-scrambled
 * seed, the one copy the renderer also draws from), refusing a bad seed as an EngineError
 * so the CLI and the app name it like every other bad argument.
 */
export class SeededRng extends SharedSeededRng implements Rng {
  constructor(seed: number) {
    if (!isSeed(seed)) throw new EngineError('bad_argument', `Seed must be a non-negative integer, got ${seed}.`);
    super(seed);
  }
}
