/**
 * The sweep view's run: one scale x layer grid at a time; a new request replaces the
 * answer, and an answer to a request that is no longer the latest is dropped.
 */
import { errorMessage } from '../api/errors';
import type { RequestOf, SweepAnswer, WorkbenchApi } from '../api/types';

export class SweepRun {
  #answer = $state.raw<SweepAnswer | null>(null);
  #running = $state(false);
  #error = $state<string | null>(null);
  #request = 0;

  constructor(private readonly api: Pick<WorkbenchApi, 'sweepVector'>) {}

  get answer(): SweepAnswer | null {
    return this.#answer;
  }
  get running(): boolean {
    return this.#running;
  }
  get error(): string | null {
    return this.#error;
  }

  async run(request: RequestOf<'sweepVector'>): Promise<void> {
    const id = ++this.#request;
    this.#running = true;
    this.#error = null;
    try {
      const answer = await this.api.sweepVector(request);
      if (id === this.#request) this.#answer = answer;
    } catch (error) {
      if (id === this.#request) this.#error = errorMessage(error);
    } finally {
      if (id === this.#request) this.#running = false;
    }
  }
}
