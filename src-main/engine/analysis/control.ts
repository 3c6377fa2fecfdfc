/**
 * Progress and cancellation shared by every analysis. Analyses run in chunks of batched
 * forward passes; between chunks they report progress and check the signal, so a cancel
 * takes effect after at most one pass.
 */
import { EngineError } from '../errors';

export interface AnalysisProgress {
  /** Units done and in all, e.g. 3 of 12 forward passes. */
  done: number;
  total: number;
  unit: string;
}

export interface AnalysisControl {
  signal?: AbortSignal;
  onProgress?: (progress: AnalysisProgress) => void;
}

export function throwIfCancelled(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new EngineError('cancelled', `${what} cancelled`);
}

/** Consecutive slices of at most `size` items. */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** A zod failure of an analysis request as EngineError('bad_argument'), naming each field. */
export function requestError(what: string, issues: readonly { path: PropertyKey[]; message: string }[]): EngineError {
  const lines = issues.map((issue) => `${issue.path.map(String).join('.') || '(request)'}: ${issue.message}`);
  return new EngineError('bad_argument', `invalid ${what} request: ${lines.join('; ')}`, { issues: lines });
}
