/**
 * Alignment of two token-id sequences, as a text diff aligns lines: the pairs (i, j) with
 * a[i] === b[j] of a longest common subsequence, in order. Tokens outside it were
 * inserted (b) or dropped (a).
 *
 * Common prefix and suffix are matched first. The rest is aligned exactly (LCS by
 * dynamic programming) when it is at most MAX_CELLS cells; a larger middle (thousands of
 * tokens on both sides) is split at anchors, tokens that occur once in each side, taken
 * in the longest order-preserving run (patience diff, as `git diff --patience`), and
 * each gap is aligned the same way. A large gap without such anchors is left unaligned:
 * every token in it counts as changed. That bounds the work to about MAX_CELLS per gap.
 */
export type Pair = readonly [number, number];

// About 10 ms of table per column (1000 x 1000 tokens): the compare view aligns every column again as tokens stream in.
const MAX_CELLS = 1_000_000;

export function alignIds(a: readonly number[], b: readonly number[]): Pair[] {
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const pairs: Pair[] = [];
  for (let i = 0; i < start; i++) pairs.push([i, i]);
  alignSpan(a, b, { a0: start, a1: endA, b0: start, b1: endB }, pairs);
  for (let k = 0; endA + k < a.length; k++) pairs.push([endA + k, endB + k]);
  return pairs;
}

interface Span {
  a0: number;
  a1: number;
  b0: number;
  b1: number;
}

function alignSpan(a: readonly number[], b: readonly number[], span: Span, out: Pair[]): void {
  const n = span.a1 - span.a0;
  const m = span.b1 - span.b0;
  if (n === 0 || m === 0) return;
  if (n * m <= MAX_CELLS) {
    lcs(a, b, span, out);
    return;
  }
  let a0 = span.a0;
  let b0 = span.b0;
  for (const [i, j] of anchors(a, b, span)) {
    alignSpan(a, b, { a0, a1: i, b0, b1: j }, out);
    out.push([i, j]);
    a0 = i + 1;
    b0 = j + 1;
  }
  if (a0 !== span.a0) alignSpan(a, b, { a0, a1: span.a1, b0, b1: span.b1 }, out);
}

/** Exact LCS of the span: lengths of suffix LCSs in one table, then a walk from the start. */
function lcs(a: readonly number[], b: readonly number[], { a0, a1, b0, b1 }: Span, out: Pair[]): void {
  const n = a1 - a0;
  const m = b1 - b0;
  const width = m + 1;
  // table[i * width + j] = LCS length of a[a0+i..a1) and b[b0+j..b1); fits: lengths <= 8192 tokens.
  const table = new Uint16Array((n + 1) * width);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      const here = i * width + j;
      table[here] = a[a0 + i] === b[b0 + j] ? table[here + width + 1] + 1 : Math.max(table[here + width], table[here + 1]);
    }
  }
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[a0 + i] === b[b0 + j]) {
      out.push([a0 + i, b0 + j]);
      i++;
      j++;
    } else if (table[(i + 1) * width + j] >= table[i * width + j + 1]) i++;
    else j++;
  }
}

/** Tokens unique on both sides of the span, as pairs forming the longest run increasing in both. */
function anchors(a: readonly number[], b: readonly number[], { a0, a1, b0, b1 }: Span): Pair[] {
  const once = (list: readonly number[], from: number, to: number): Map<number, number> => {
    const seen = new Map<number, number>();
    for (let k = from; k < to; k++) seen.set(list[k], seen.has(list[k]) ? -1 : k);
    return seen;
  };
  const inA = once(a, a0, a1);
  const inB = once(b, b0, b1);
  const candidates: Pair[] = [];
  for (const [id, i] of inA) {
    const j = inB.get(id);
    if (i >= 0 && j !== undefined && j >= 0) candidates.push([i, j]);
  }
  candidates.sort((x, y) => x[0] - y[0]);
  // Longest increasing subsequence in j (patience sorting): tails[k] ends the best run of length k + 1.
  const tails: number[] = [];
  const previous = new Int32Array(candidates.length).fill(-1);
  for (let c = 0; c < candidates.length; c++) {
    let lo = 0;
    let hi = tails.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (candidates[tails[mid]][1] < candidates[c][1]) lo = mid + 1;
      else hi = mid;
    }
    if (lo > 0) previous[c] = tails[lo - 1];
    tails[lo] = c;
  }
  const run: Pair[] = [];
  for (let c = tails.length > 0 ? tails[tails.length - 1] : -1; c >= 0; c = previous[c]) run.push(candidates[c]);
  return run.reverse();
}
