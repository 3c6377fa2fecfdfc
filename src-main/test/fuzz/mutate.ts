/**
 * Seeded mutation of bytes and JSON values for the fuzz suite (fuzz.test.ts). Every
 * input is reproducible from (seed, index): a failure message names both, and
 * TILLER_FUZZ_SEED / TILLER_FUZZ_RUNS replay or extend a run.
 *
 * The mutations aim at what hostile files and requests do: sizes and counts at the edges
 * of int32 / uint64 and JS arrays, wrong types, truncation, long lists, deep nesting.
 */

/** Inputs per target: `defaultRuns` (a few seconds in CI), or TILLER_FUZZ_RUNS for a longer run. */
export function fuzzRuns(defaultRuns: number): number {
  const value = Number(process.env.TILLER_FUZZ_RUNS);
  return Number.isSafeInteger(value) && value > 0 ? value : defaultRuns;
}

export function fuzzSeed(defaultSeed: number): number {
  const value = Number(process.env.TILLER_FUZZ_SEED);
  return Number.isSafeInteger(value) ? value : defaultSeed;
}

/** mulberry32: small, fast, and the same sequence on every platform. */
export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  }

  int(below: number): number {
    return Math.floor(this.next() * below);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
}

/** Numbers a size or count field should never be trusted with. */
const EDGE_NUMBERS = [0, -1, 1, 2, 7, 255, 256, 65535, 65536, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53, 1e8, 1e308, -1e308, 0.5, -0.0];
const EDGE_INT32 = [0, 1, -1, 2, 8, 0x7fffffff, -0x80000000, 0x10000, 0x616b3432, 3];

/** One of several byte-level mutations of `input` (the input itself is not changed). */
export function mutateBytes(input: Uint8Array, random: Random, hot: number = input.length): Uint8Array {
  const bytes = Uint8Array.from(input);
  const at = (width: number): number => Math.max(0, Math.min(out.length - width, random.next() < 0.8 ? random.int(Math.max(1, hot)) : random.int(Math.max(1, out.length))));
  const rounds = 1 + random.int(4);
  let out: Uint8Array = bytes;
  // Most mutations hit the first `hot` bytes (headers), where sizes and offsets live.
  for (let round = 0; round < rounds; round++) {
    const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
    switch (random.int(7)) {
      case 0: // flip a bit
        if (out.length > 0) out[at(1)] ^= 1 << random.int(8);
        break;
      case 1: // an edge int32, aligned as header fields are
        if (out.length >= 4) view.setInt32(at(4) & ~3, random.pick(EDGE_INT32), true);
        break;
      case 2: // an edge uint64 (a safetensors header length)
        if (out.length >= 8) view.setBigUint64(at(8) & ~7, BigInt(Math.floor(random.pick(EDGE_NUMBERS.filter((n) => n >= 0 && n < 2 ** 64)))), true);
        break;
      case 3: // truncate
        out = out.subarray(0, random.int(out.length + 1));
        break;
      case 4: // random byte
        if (out.length > 0) out[at(1)] = random.int(256);
        break;
      case 5: // duplicate a chunk (repeated keys, repeated records)
        if (out.length > 1) {
          const start = at(1);
          const end = Math.min(out.length, start + 1 + random.int(64));
          out = concat(out.subarray(0, end), out.subarray(start, end), out.subarray(end));
        }
        break;
      default: // append garbage
        out = concat(out, Uint8Array.from({ length: random.int(32) }, () => random.int(256)));
    }
  }
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** A value of the kinds that break parsers: edge numbers, wrong types, long lists, deep nesting. */
function hostileValue(random: Random): unknown {
  switch (random.int(10)) {
    case 0:
      return random.pick(EDGE_NUMBERS);
    case 1:
      return random.pick(['', 'x', 'all', 'dola', 'blocks.0.hook_resid_post', 'blocks.99999.attn.hook_z', '../../etc/passwd', '\u0000', '__proto__', 'constructor']);
    case 2:
      return null;
    case 3:
      return random.next() < 0.5;
    case 4: // a long list of wrong things
      return new Array(1000 + random.int(40_000)).fill(random.pick(['x', null, -1, 1.5, {}]));
    case 5: // a long list of plausible numbers
      return Array.from({ length: 1 + random.int(5000) }, (_, i) => (random.next() < 0.9 ? i % 97 : random.pick(EDGE_NUMBERS)));
    case 6: {
      // deep nesting
      let deep: unknown = 1;
      for (let i = random.int(1000); i > 0; i--) deep = [deep]; // deeper breaks JSON.stringify itself; fuzz.test sends deeper text
      return deep;
    }
    case 7:
      return {};
    case 8:
      return [];
    default:
      return { op: random.pick(['add', 'set', 'scale', 'patch', 'schedule', 'lens', 'weight_delta', 'nope']), hook: 'blocks.0.hook_resid_post' };
  }
}

/** `value` with one to three nodes replaced, deleted or added, at random depths (a deep copy). */
export function mutateJson(value: unknown, random: Random): unknown {
  let root = structuredClone(value);
  const rounds = 1 + random.int(3);
  for (let round = 0; round < rounds; round++) {
    // Walk down a random path; at the end replace, delete or add.
    let parent: unknown = null;
    let key: string | number | null = null;
    let node: unknown = root;
    while (typeof node === 'object' && node !== null && random.next() < 0.75) {
      const keys: (string | number)[] = Array.isArray(node) ? node.map((_, i) => i) : Object.keys(node);
      if (keys.length === 0) break;
      parent = node;
      key = random.pick(keys);
      node = (node as Record<string | number, unknown>)[key];
    }
    const action = random.int(4);
    if (parent === null || key === null) {
      root = action === 0 ? hostileValue(random) : root;
    } else if (action === 0 && !Array.isArray(parent)) {
      delete (parent as Record<string, unknown>)[key as string];
    } else if (action === 1 && typeof node === 'object' && node !== null && !Array.isArray(node)) {
      (node as Record<string, unknown>)[random.pick(['extra', 'op', 'positions', 'vector', 'shape', '$tensor', 'sidecar', 'version'])] = hostileValue(random);
    } else if (action === 2 && Array.isArray(node) && node.length > 0 && node.length < 10_000) {
      node.push(...Array.from({ length: 1 + random.int(3) }, () => structuredClone(node[random.int(node.length)])));
    } else {
      (parent as Record<string | number, unknown>)[key] = hostileValue(random);
    }
  }
  return root;
}
