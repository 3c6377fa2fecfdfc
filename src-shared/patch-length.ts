/**
 * Shared by the engine and the renderer (src-shared: imports nothing but zod).
 *
 * A patch from a source prompt replaces position p with the source run's activation at p
 * (engine/hooks/plan.ts). Over "all" positions that is only what the user means when the
 * source and the prompt have the same length: a longer source overwrites generated
 * positions with activations of its own prompt, and a shorter one leaves the end of the
 * prompt and every generated position unpatched, and neither says so. This names those
 * cases (the engine warns with it when generating; the patch form shows it) and the
 * explicit alternative: positions 0..n-1, the ones both prompts have.
 */
import type { Intervention, Positions } from './plan-schema';

export interface PatchLengthWarning {
  message: string;
  /** Explicit positions where both prompts have a token, aligned from the start. */
  alignment: number[];
  /** The alignment as a range, e.g. "0-4". */
  alignmentLabel: string;
}

export function patchLengthWarning(positions: Positions, sourceLength: number, promptLength: number): PatchLengthWarning | null {
  if (positions !== 'all' || sourceLength === 0 || promptLength === 0 || sourceLength === promptLength) return null;
  const shared = Math.min(sourceLength, promptLength);
  const alignment = Array.from({ length: shared }, (_, p) => p);
  const lengths = `The source prompt has ${tokens(sourceLength)} and the prompt ${tokens(promptLength)}.`;
  const message =
    sourceLength > promptLength
      ? `${lengths} Over all positions, the tokens generated at positions ${range(promptLength, sourceLength - 1)} would take the source prompt's activations there, and later ones none.`
      : `${lengths} Over all positions, only positions ${range(0, sourceLength - 1)} are patched: the rest of the prompt and every generated token keep their own activations.`;
  return { message, alignment, alignmentLabel: shared === 1 ? '0' : `0-${shared - 1}` };
}

/** The warnings of a plan's patches run on a prompt of `promptLength` tokens, located like plan issues. */
export function patchLengthIssues(interventions: readonly Intervention[], promptLength: number): { path: string; message: string }[] {
  return interventions.flatMap((step, i) => {
    if (step.op !== 'patch' || !('prompt_ids' in step.source)) return [];
    const warning = patchLengthWarning(step.positions, step.source.prompt_ids.length, promptLength);
    return warning ? [{ path: `interventions[${i}].positions`, message: `${warning.message} Explicit positions ${warning.alignmentLabel} patch only those both have.` }] : [];
  });
}

function tokens(count: number): string {
  return `${count} ${count === 1 ? 'token' : 'tokens'}`;
}

function range(first: number, last: number): string {
  return first === last ? `${first}` : `${first}–${last}`;
}
