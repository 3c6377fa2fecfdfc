/**
 * Shared by the engine and the renderer (src-shared: imports nothing but zod).
 *
 * Seeded PRNG: mulberry32 (Tommy Ettinger, public domain), a 32-bit-state generator
 * that needs only Math.imul, so it is exact in JavaScript without BigInt. Its period is
 * 2^32 draws, plenty for one generation (one draw per sampled token).
 *
 * The seed goes through murmur3's fmix32 finalizer first. mulberry32 steps its state by a
 * fixed constant, so two raw seeds that differ by that constant give the same sequence
 * shifted by one draw; scrambling the seed makes nearby user seeds (0, 1, 2, ...) unrelated.
 *
 * Same seed, same sequence, on every platform: experiment files rely on this to
 * reproduce sampled generations exactly, and the renderer to rebuild the noise a causal
 * trace drew (trace-variant.ts).
 */

/** Seeds the generator takes: non-negative safe integers. */
export function isSeed(seed: number): boolean {
  return Number.isSafeInteger(seed) && seed >= 0;
}

export class SeededRng {
  #state: number; // uint32

  constructor(seed: number) {
    if (!isSeed(seed)) throw new RangeError(`Seed must be a non-negative integer, got ${seed}.`);
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

  /** A uniform float in [0, 1). */
  nextFloat(): number {
    return this.nextUint32() / 2 ** 32;
  }
}

/** A standard normal draw by Box-Muller over the seeded generator (reproducible on every platform). */
export function gaussian(rng: SeededRng): number {
  const u = 1 - rng.nextFloat(); // (0, 1]: log stays finite
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.nextFloat());
}

/** murmur3's 32-bit finalizer: every input bit affects every output bit. */
function fmix32(value: number): number {
  let mixed = value >>> 0;
  mixed = Math.imul(mixed ^ (mixed >>> 16), 0x85ebca6b);
  mixed = Math.imul(mixed ^ (mixed >>> 13), 0xc2b2ae35);
  return (mixed ^ (mixed >>> 16)) >>> 0;
}
