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

/** Attention heads as LAYER.HEAD, comma- or space-separated: "1.2, 3.0" -> [{layer: 1, head: 2}, {layer: 3, head: 0}]. */
export function parseHeadList(text: string, { nLayers, nHeads }: { nLayers: number; nHeads: number }): Parsed<{ layer: number; head: number }[]> {
  const parts = text
    .split(/[\s,]+/)
    .map((part) => part.trim())
    .filter((part) => part.length > 0);
  if (parts.length === 0) return { ok: false, error: 'enter at least one head as LAYER.HEAD, e.g. 1.2' };
  const heads: { layer: number; head: number }[] = [];
  const seen = new Set<string>();
  for (const part of parts) {
    const match = /^(\d+)\.(\d+)$/.exec(part);
    if (!match) return { ok: false, error: `“${part}” is not a head as LAYER.HEAD, e.g. 1.2` };
    const [layer, head] = [Number(match[1]), Number(match[2])];
    if (layer >= nLayers) return { ok: false, error: `${part}: block ${layer} is out of range (0..${nLayers - 1})` };
    if (head >= nHeads) return { ok: false, error: `${part}: head ${head} is out of range (0..${nHeads - 1})` };
    if (seen.has(part)) return { ok: false, error: `${part} is listed twice` };
    seen.add(part);
    heads.push({ layer, head });
  }
  return { ok: true, value: heads };
}
