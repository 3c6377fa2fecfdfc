/**
 * A long engine task the app starts and may cancel (an Inside-tab analysis, a Vectors-tab
 * sweep): it reports progress between its batched passes (analysis/control.ts) and ends
 * with exactly one final update, 'done' with its value, or 'cancelled' or 'error'.
 * Starting answers at once with the run's id; the updates travel as events.
 */
import { randomUUID } from 'node:crypto';
import { serializeError, type SerializedError } from '../errors';
import type { AnalysisControl, AnalysisProgress } from '../analysis/control';

export type RunUpdate<T> =
  | { state: 'running'; progress: AnalysisProgress }
  | { state: 'done'; value: T }
  | { state: 'cancelled' | 'error'; error: SerializedError };

export class BackgroundRun<T> {
  readonly id = randomUUID();
  /** Settles (never rejects) once the run's final update has been reported. */
  readonly finished: Promise<void>;
  private readonly abort = new AbortController();

  constructor(task: (control: AnalysisControl, id: string) => Promise<T>, report: (id: string, update: RunUpdate<T>) => void) {
    this.finished = this.execute(task, report);
  }

  cancel(): void {
    this.abort.abort();
  }

  private async execute(task: (control: AnalysisControl, id: string) => Promise<T>, report: (id: string, update: RunUpdate<T>) => void): Promise<void> {
    const { id } = this;
    try {
      const value = await task({ signal: this.abort.signal, onProgress: (progress) => report(id, { state: 'running', progress }) }, id);
      report(id, { state: 'done', value });
    } catch (error) {
      const serialized = serializeError(error);
      report(id, { state: serialized.code === 'cancelled' ? 'cancelled' : 'error', error: serialized });
    }
  }
}

/** An update as an event's fields: progress while running, the value once done, the error otherwise. */
export function updateFields<T>(update: RunUpdate<T>): { state: RunUpdate<T>['state']; progress: AnalysisProgress | null; value: T | null; error: SerializedError | null } {
  if (update.state === 'running') return { state: 'running', progress: update.progress, value: null, error: null };
  if (update.state === 'done') return { state: 'done', progress: null, value: update.value, error: null };
  return { state: update.state, progress: null, value: null, error: update.error };
}

/** At most one background run of a kind: starting one cancels the one before it and waits for its end. */
export class RunSlot<R extends { readonly id: string; readonly finished: Promise<void>; cancel(): void }> {
  private current: R | null = null;

  async replace(start: () => R): Promise<R> {
    await this.stop();
    const run = start();
    this.current = run;
    void run.finished.then(() => {
      if (this.current === run) this.current = null;
    });
    return run;
  }

  /** Cancel the run with this id, if it is the one going (one that already ended has nothing to cancel). */
  cancel(id: string): void {
    if (this.current?.id === id) this.current.cancel();
  }

  /** Cancel the run going, if any, and resolve once it has reported its end. */
  async stop(): Promise<void> {
    const run = this.current;
    if (!run) return;
    run.cancel();
    await run.finished;
  }
}
