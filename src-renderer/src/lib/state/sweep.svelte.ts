/**
 * The sweep view's run: one scale x layer grid at a time, as the Inside tab runs an
 * analysis. The engine answers sweepVector with an id and streams progress and the
 * answer as 'sweep' events; Cancel stops it between batches. A new sweep replaces the
 * answer on screen once it is done.
 */
import { errorMessage } from '../api/errors';
import type { AnalysisProgress, RequestOf, SweepAnswer, WorkbenchApi, WorkbenchEvent } from '../api/types';

export interface RunningSweep {
  /** Null until the engine answers with the sweep id. */
  sweepId: string | null;
  progress: AnalysisProgress | null;
}

export class SweepRun {
  #answer = $state.raw<SweepAnswer | null>(null);
  #running = $state.raw<RunningSweep | null>(null);
  #error = $state<string | null>(null);

  constructor(private readonly api: Pick<WorkbenchApi, 'sweepVector' | 'cancelSweep'>) {}

  get answer(): SweepAnswer | null {
    return this.#answer;
  }
  /** The sweep in progress, with how far it has come. */
  get running(): RunningSweep | null {
    return this.#running;
  }
  get error(): string | null {
    return this.#error;
  }

  async run(request: RequestOf<'sweepVector'>): Promise<void> {
    if (this.#running) return;
    this.#running = { sweepId: null, progress: null };
    this.#error = null;
    try {
      const { sweepId } = await this.api.sweepVector(request);
      // An event may have ended it already (a small grid): then nothing is running.
      if (this.#running?.sweepId === null) this.#running = { ...this.#running, sweepId };
    } catch (error) {
      this.#running = null;
      this.#error = errorMessage(error);
    }
  }

  async cancel(): Promise<void> {
    const sweepId = this.#running?.sweepId;
    if (!sweepId) return;
    try {
      await this.api.cancelSweep({ sweepId });
    } catch (error) {
      this.#error = `Cancel failed: ${errorMessage(error)}`;
    }
  }

  accept(event: Extract<WorkbenchEvent, { type: 'sweep' }>): void {
    const running = this.#running;
    if (!running) return;
    if (running.sweepId !== null && running.sweepId !== event.sweepId) return;
    if (event.state === 'running') {
      this.#running = { sweepId: event.sweepId, progress: event.progress };
      return;
    }
    this.#running = null;
    if (event.state === 'done' && event.answer) this.#answer = event.answer;
    else if (event.state === 'error') this.#error = event.error?.message ?? 'the sweep failed';
  }

  /** The engine is gone (crash, closed connection): the sweep will send nothing more. */
  abandon(): void {
    this.#running = null;
  }
}
