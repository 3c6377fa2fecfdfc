import { EngineError } from '../errors';

/** The only thing samplers need from a random source. */
export interface Rng {
  /** A uniform float in [0, 1). */
  nextFloat(): number;
}

/**
 * Seeded PRNG: mulberry32 (Tommy Ettinger, public domain), a 32-bit-state generator
 * that needs only Math.imul, so it is exact in JavaScript without BigInt. Its period is
 * 2^32 draws, plenty for one generation (one draw per sampled token).
 *
 * The seed goes through murmur3's fmix32 finalizer first. mulberry32 steps its state by a
 * fixed constant, so two raw seeds that differ by that constant give the same sequence
 * shifted by one draw; scrambling the seed makes nearby user seeds (0, 1, 2, ...) unrelated.
 *
 * Same seed, same sequence, on every platform: experiment files rely on this to
 * reproduce sampled generations exactly.
 */
export class SeededRng implements Rng {
  #state: number; // uint32

  constructor(seed: number) {
    if (!Number.isSafeInteger(seed) || seed < 0) {
      throw new EngineError('bad_argument', `Seed must be a non-negative integer, got ${seed}.`);
    }
    // Fold all 53 bits of the seed into 32 so large seeds do not collide on their low word.
    const highWord = Math.floor(seed / 2 ** 32);
    const lowWord = seed >>> 0;
    this.#state = fmix32(fmix32(highWord) ^ lowWord);
  }

  /** A uniform uint32. */
  nextUint32(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let mixed = Math.imul(this.#state ^ (this.#state >>> 15), this.#state | 1);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
    return (mixed ^ (mixed >>> 14)) >>> 0;
  }

  nextFloat(): number {
    return this.nextUint32() / 2 ** 32;
  }
}

/** murmur3's 32-bit finalizer: every input bit affects every output bit. */
function fmix32(value: number): number {
  let mixed = value >>> 0;
  mixed = Math.imul(mixed ^ (mixed >>> 16), 0x85ebca6b);
  mixed = Math.imul(mixed ^ (mixed >>> 13), 0xc2b2ae35);
  return (mixed ^ (mixed >>> 16)) >>> 0;
}
