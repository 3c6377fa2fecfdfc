/**
 * Validation problems, each located by its JSON path, and the one way they are worded.
 * Shared by the engine and the renderer (src-shared imports nothing but zod), so a plan
 * refused by the engine and one refused in the UI read the same.
 *
 * Paths have two spellings: "interventions[0].vector" in messages and files, and the
 * dotted "interventions.0.vector" the workbench API and the UI key fields by.
 */
import type { z } from 'zod';

export interface Issue {
  path: string;
  message: string;
}

const INDEX_RANGES = { layer: "the model's blocks", neuron: "the layer's MLP", token: 'the vocabulary' } as const;

/** "layer 7 is outside the model's blocks (0..5)": an index past its range, as the analyses' checks and the forms that mirror them say it. */
export function outsideRange(what: keyof typeof INDEX_RANGES, value: number, count: number): string {
  return `${what} ${value} is outside ${INDEX_RANGES[what]} (0..${count - 1})`;
}

/** Issue lists stop here: the rest is counted, never listed (a 10^6-index plan must not make a 100 MB error). */
export const MAX_ISSUES = 100;
/** An error message lists this many issues; details.issues has up to MAX_ISSUES. */
export const LISTED_ISSUES = 8;

/** Inputs with more values than this are parsed to their first problem only (see safeParseBounded). */
const FULL_REPORT_VALUES = 5_000;

type ZodIssue = z.core.$ZodIssue;

/** zod's issues as Issues with bracket paths, unions resolved to the branch the input meant, at most MAX_ISSUES. */
export function zodIssues(issues: readonly ZodIssue[], base: readonly PropertyKey[] = [], whole = ''): Issue[] {
  return capIssues(flatIssues(issues, base, whole));
}

function flatIssues(issues: readonly ZodIssue[], base: readonly PropertyKey[], whole: string): Issue[] {
  const out: Issue[] = [];
  for (const issue of issues) {
    if (out.length > MAX_ISSUES) break;
    const path = [...base, ...issue.path];
    const branch = issue.code === 'invalid_union' ? likelyBranch(issue.errors) : null;
    if (branch) out.push(...flatIssues(branch, path, whole));
    // One issue per unknown key, at the key itself, so the message names the field.
    else if (issue.code === 'unrecognized_keys') for (const key of issue.keys.slice(0, MAX_ISSUES)) out.push({ path: formatPath([...path, key], whole), message: 'unknown field' });
    else out.push({ path: formatPath(path, whole), message: plainMessage(issue.message) });
  }
  return out;
}

/** zod's "Invalid input: expected number, received undefined" -> "missing (expected number)". */
function plainMessage(message: string): string {
  const text = message.replace(/^Invalid input: /, '');
  const missing = /^expected (.+), received undefined$/.exec(text);
  return missing ? `missing (expected ${missing[1]})` : text;
}

/**
 * zod reports a failed union as one issue holding every branch's issues. When the input
 * evidently meant one branch (its issues all lie inside the value, and it has the
 * fewest), report that branch's issues: "source.values[0][0]: expected number".
 */
function likelyBranch(branches: ZodIssue[][]): ZodIssue[] | null {
  const inside = branches.filter((issues) => issues.every((issue) => issue.path.length > 0));
  if (inside.length === 0) return null;
  const fewest = Math.min(...inside.map((issues) => issues.length));
  const best = inside.filter((issues) => issues.length === fewest);
  return best.length === 1 ? best[0] : null;
}

/** ["interventions", 0, "vector"] -> "interventions[0].vector"; the empty path is `whole`, e.g. "(plan)". */
export function formatPath(path: readonly PropertyKey[], whole = ''): string {
  let text = '';
  for (const key of path) text += typeof key === 'number' ? `[${key}]` : `${text ? '.' : ''}${String(key)}`;
  return text || whole;
}

/** "interventions[0].source.prompt_ids[1]" -> "interventions.0.source.prompt_ids.1". */
export function dottedPath(path: string): string {
  return path.replace(/\[(\d+)\]/g, '.$1').replace(/^\./, '');
}

/** At most MAX_ISSUES issues; a longer list ends with one issue counting the rest. */
export function capIssues<T extends Issue>(issues: readonly T[]): Issue[] {
  if (issues.length <= MAX_ISSUES) return [...issues];
  return [...issues.slice(0, MAX_ISSUES), { path: '', message: `and more problems not listed (only the first ${MAX_ISSUES} are)` }];
}

/** "path: message; path: message; and 3 more", for an error message. */
export function issueLines(issues: readonly Issue[]): string {
  const lines = issues.slice(0, LISTED_ISSUES).map((issue) => (issue.path ? `${issue.path}: ${issue.message}` : issue.message));
  if (issues.length > LISTED_ISSUES) lines.push(`and ${issues.length - LISTED_ISSUES} more`);
  return lines.join('; ');
}

/**
 * schema.safeParse, bounded in time and memory for any JSON value. zod collects one issue
 * per bad element (several where unions try each branch), and a container with ~10^5 of
 * them overflows the stack in zod itself (the fuzz suite found ~20,000 values enough deep
 * in a call stack), so an input with more than FULL_REPORT_VALUES values is
 * parsed with zod's abortEarly: a valid input parses the same, an invalid one reports
 * its first problem only. Arrays should also carry .max() bounds, which zod checks
 * before it reads any element.
 */
export function safeParseBounded<T extends z.ZodType>(schema: T, value: unknown): z.ZodSafeParseResult<z.output<T>> {
  const large = countValues(value, FULL_REPORT_VALUES) > FULL_REPORT_VALUES;
  // abortEarly is a zod parse-context option that its public ParseContext type does not list.
  return schema.safeParse(value, large ? ({ abortEarly: true } as z.core.ParseContext<z.core.$ZodIssue>) : undefined);
}

/** How many values (leaves and containers) `value` holds, counting no further than `stop`; iterative, so any depth is safe. */
export function countValues(value: unknown, stop: number): number {
  const pending: unknown[] = [value];
  let count = 0;
  while (pending.length > 0 && count <= stop) {
    const next = pending.pop();
    count += 1;
    if (Array.isArray(next)) {
      if (count + next.length > stop) return count + next.length;
      for (const item of next) pending.push(item);
    } else if (typeof next === 'object' && next !== null) {
      const items = Object.values(next);
      if (count + items.length > stop) return count + items.length;
      for (const item of items) pending.push(item);
    }
  }
  return count;
}
