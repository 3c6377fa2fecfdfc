/**
 * One generation run as it streams: the tokens of every variant so far, its progress
 * and speed. Token events may arrive before generate() has answered with the run id, so
 * events are held until the run is attached; events of any other run are dropped.
 * Tokens are applied in batches (one per frame) so a fast stream does not re-render the
 * columns once per token.
 */
import type { ExperimentResults, TokenRecord, WorkbenchEvent } from '../api/types';

export type RunPhase = 'idle' | 'starting' | 'running' | 'finished' | 'cancelled' | 'failed';

type RunEvent = Extract<WorkbenchEvent, { runId: string }>;

const FLUSH_MS = 32;

export class LiveRun {
  #phase = $state<RunPhase>('idle');
  #runId = $state<string | null>(null);
  #variantIds = $state.raw<string[]>([]);
  /** The one variant this run regenerates (beside the baseline), or null when it runs them all. */
  #only = $state<string | null>(null);
  #tokens = $state.raw<TokenRecord[][]>([]);
  #maxTokens = $state(0);
  #startedAt = $state(0);
  #endedAt = $state<number | null>(null);
  #now = $state(0);
  #error = $state<string | null>(null);
  /** Shown in the compare view until the finished run's results replace it. */
  #showing = $state(false);

  #early: RunEvent[] = [];
  #idleWaiters: (() => void)[] = [];
  #queued: { variant: number; index: number; token: TokenRecord }[] = [];
  #flushTimer: ReturnType<typeof setTimeout> | null = null;
  #ticker: ReturnType<typeof setInterval> | null = null;

  get phase(): RunPhase {
    return this.#phase;
  }
  get runId(): string | null {
    return this.#runId;
  }
  get active(): boolean {
    return this.#phase === 'starting' || this.#phase === 'running';
  }
  get showing(): boolean {
    return this.#showing;
  }
  get variantIds(): string[] {
    return this.#variantIds;
  }
  get only(): string | null {
    return this.#only;
  }
  get tokens(): TokenRecord[][] {
    return this.#tokens;
  }
  get maxTokens(): number {
    return this.#maxTokens;
  }
  get error(): string | null {
    return this.#error;
  }
  /** Tokens generated so far, summed over variants. */
  get produced(): number {
    return this.#tokens.reduce((sum, list) => sum + list.length, 0);
  }
  /** Seconds since the run started (until it ended). */
  get elapsed(): number {
    if (this.#phase === 'idle') return 0;
    return ((this.#endedAt ?? this.#now) - this.#startedAt) / 1000;
  }
  /** Tokens per second over all variants, wall clock (includes compiling the graphs). */
  get tokensPerSecond(): number {
    const seconds = this.elapsed;
    return seconds > 0 ? this.produced / seconds : 0;
  }

  /** variantIds: the variants the run generates, in the order of its token events; only: see `only`. */
  begin(variantIds: string[], maxTokens: number, only: string | null = null): void {
    this.#stopTimers();
    this.#phase = 'starting';
    this.#runId = null;
    this.#variantIds = variantIds;
    this.#only = only;
    this.#tokens = variantIds.map(() => []);
    this.#maxTokens = maxTokens;
    this.#startedAt = Date.now();
    this.#now = this.#startedAt;
    this.#endedAt = null;
    this.#error = null;
    this.#showing = true;
    this.#early = [];
    this.#queued = [];
    this.#ticker = setInterval(() => (this.#now = Date.now()), 250);
  }

  /** generate() answered: this is the run. Returns results if it had already finished. */
  attach(runId: string): ExperimentResults | null {
    this.#runId = runId;
    if (this.#phase === 'starting') this.#phase = 'running';
    let results: ExperimentResults | null = null;
    for (const event of this.#early.splice(0)) if (event.runId === runId) results = this.accept(event) ?? results;
    return results;
  }

  /** The generate call itself failed. */
  fail(message: string): void {
    this.#flush();
    this.#error = message;
    this.#finish('failed');
  }

  /** An event for some run; returns the results when this run is done. */
  accept(event: WorkbenchEvent): ExperimentResults | null {
    if (event.type !== 'token' && event.type !== 'done' && event.type !== 'error') return null;
    if (this.#phase === 'starting' && this.#runId === null) {
      this.#early.push(event);
      return null;
    }
    if (event.runId !== this.#runId || !this.active) return null;
    switch (event.type) {
      case 'token':
        this.#queued.push({ variant: event.variant, index: event.index, token: event.token });
        this.#flushTimer ??= setTimeout(() => this.#flush(), FLUSH_MS);
        return null;
      case 'done': {
        this.#flush();
        const cancelled = event.results.variants.some((variant) => variant.stopReason === 'cancelled');
        this.#tokens = event.results.variants.map((variant) => variant.tokens);
        this.#finish(cancelled ? 'cancelled' : 'finished');
        return event.results;
      }
      case 'error':
        this.#flush();
        this.#error = event.error.message;
        this.#finish(event.error.code === 'cancelled' ? 'cancelled' : 'failed');
        return null;
    }
  }

  /** The finished run's results are stored in the document: show those instead. */
  settle(): void {
    this.#showing = false;
  }

  clear(): void {
    this.#stopTimers();
    this.#phase = 'idle';
    this.#runId = null;
    this.#variantIds = [];
    this.#only = null;
    this.#tokens = [];
    this.#error = null;
    this.#showing = false;
    this.#early = [];
    this.#queued = [];
  }

  #flush(): void {
    if (this.#flushTimer !== null) clearTimeout(this.#flushTimer);
    this.#flushTimer = null;
    if (this.#queued.length === 0) return;
    const tokens = this.#tokens.map((list) => list.slice());
    for (const { variant, index, token } of this.#queued.splice(0)) {
      if (tokens[variant]) tokens[variant][index] = token;
    }
    this.#tokens = tokens.map((list) => list.filter((token) => token !== undefined));
    this.#now = Date.now();
  }

  #finish(phase: RunPhase): void {
    this.#phase = phase;
    this.#endedAt = Date.now();
    this.#stopTimers();
    for (const resolve of this.#idleWaiters.splice(0)) resolve();
  }

  /** Resolves once no run is starting or running (at once when none is). */
  whenIdle(): Promise<void> {
    if (!this.active) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #stopTimers(): void {
    if (this.#ticker !== null) clearInterval(this.#ticker);
    if (this.#flushTimer !== null) clearTimeout(this.#flushTimer);
    this.#ticker = null;
    this.#flushTimer = null;
  }
}
