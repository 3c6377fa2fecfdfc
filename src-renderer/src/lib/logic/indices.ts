/**
 * Index lists as people type them: "3, 7, 10-12" -> [3, 7, 10, 11, 12]. Used for neuron
 * ids, explicit positions and block lists.
 */
export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

const MAX_EXPANDED = 100_000;

export function parseIndexList(text: string, { max, allowEmpty = false }: { max?: number; allowEmpty?: boolean } = {}): Parsed<number[]> {
  const parts = text
    .split(/[\s,]+/)
    .map((part) => part.trim())
    .filter((part) => part.length > 0);
  if (parts.length === 0) return allowEmpty ? { ok: true, value: [] } : { ok: false, error: 'enter at least one index' };
  const out: number[] = [];
  for (const part of parts) {
    const range = /^(\d+)\s*[-–]\s*(\d+)$/.exec(part);
    if (range) {
      const from = Number(range[1]);
      const to = Number(range[2]);
      if (to < from) return { ok: false, error: `range ${part} runs backwards` };
      if (out.length + (to - from + 1) > MAX_EXPANDED) return { ok: false, error: `range ${part} is too long` };
      for (let i = from; i <= to; i++) out.push(i);
    } else if (/^\d+$/.test(part)) {
      out.push(Number(part));
    } else {
      return { ok: false, error: `“${part}” is not a non-negative integer or a range like 3-7` };
    }
  }
  const seen = new Set<number>();
  for (const index of out) {
    if (seen.has(index)) return { ok: false, error: `${index} is listed twice` };
    seen.add(index);
    if (max !== undefined && index >= max) return { ok: false, error: `${index} is out of range (0..${max - 1})` };
  }
  return { ok: true, value: out };
}

/** The inverse, compressing runs: [3, 7, 10, 11, 12] -> "3, 7, 10-12". */
export function formatIndexList(list: readonly number[]): string {
  const parts: string[] = [];
  let i = 0;
  while (i < list.length) {
    let j = i;
    while (j + 1 < list.length && list[j + 1] === list[j] + 1) j++;
    parts.push(j - i >= 2 ? `${list[i]}-${list[j]}` : list.slice(i, j + 1).join(', '));
    i = j + 1;
  }
  return parts.join(', ');
}

/** A list of numbers, "0.5, -2, 1e-3" (clamp values). */
export function parseNumberList(text: string): Parsed<number[]> {
  const parts = text
    .split(/[\s,]+/)
    .map((part) => part.trim())
    .filter((part) => part.length > 0);
  if (parts.length === 0) return { ok: false, error: 'enter at least one number' };
  const out: number[] = [];
  for (const part of parts) {
    const value = Number(part);
    if (!Number.isFinite(value)) return { ok: false, error: `“${part}” is not a number` };
    out.push(value);
  }
  return { ok: true, value: out };
}
