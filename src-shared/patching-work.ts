/**
 * Shared by the engine's CLI and the renderer (src-shared: imports nothing but zod).
 *
 * How much a patching sweep ran, in one line: its passes, and the block-positions they
 * computed against one full forward pass per patch (cells x the base prompt's length x
 * the layers), since passes skip what equals the base run and so differ in size.
 */
import type { PatchResult } from './analysis-schema';

export function patchingWorkLine(result: PatchResult): string {
  const passes = `${result.cells} patches in ${result.forwardPasses} forward passes`;
  if (result.blockPositions === undefined) return passes;
  const { request } = result;
  const base = request.direction === 'noising' ? request.clean : request.corrupted;
  const full = result.cells * base.length * result.layers.length;
  return `${passes} running ${result.blockPositions} block-positions over their rows (a full pass per patch: ${full})`;
}
