/**
 * Live strength (as Neuronpedia's steering slider): while it is on, every change of a
 * steering scale regenerates shortly after the slider stops moving. A change during the
 * wait restarts the wait (debounce); a change while a run is going cancels that run
 * before the next starts, so only the latest strength is generated. When every change
 * since the last run was to one variant, only that variant is regenerated.
 */
export const LIVE_DEBOUNCE_MS = 350;

export interface LiveRunner {
  /** Cancel the run in progress, if any, and resolve when it has ended. */
  stop(): Promise<void>;
  /** Generate without leaving the view the user is in: only the variant with id `only`, or every variant (null). */
  start(only: string | null): Promise<void>;
}

export class LiveStrength {
  #on = $state(false);
  #pending = $state(false);
  #timer: ReturnType<typeof setTimeout> | null = null;
  /** Bumped per change: a run started for an older change is not followed by another. */
  #generation = 0;
  /** The variants changed since the last run started. */
  #changed = new Set<string>();

  constructor(
    private readonly runner: LiveRunner,
    private readonly debounceMs = LIVE_DEBOUNCE_MS,
  ) {}

  get on(): boolean {
    return this.#on;
  }
  set on(on: boolean) {
    this.#on = on;
    if (!on) {
      this.#clear();
      this.#changed.clear();
    }
  }
  /** A change is waiting for the slider to rest. */
  get pending(): boolean {
    return this.#pending;
  }

  /** A steering scale of variant `variantId` changed. */
  nudge(variantId: string): void {
    if (!this.#on) return;
    this.#changed.add(variantId);
    this.#clear();
    this.#pending = true;
    const generation = ++this.#generation;
    this.#timer = setTimeout(() => void this.#fire(generation), this.debounceMs);
  }

  async #fire(generation: number): Promise<void> {
    this.#timer = null;
    await this.runner.stop();
    // A newer change arrived while the old run wound down: its own timer will start the run.
    if (generation !== this.#generation) return;
    this.#pending = false;
    const only = this.#changed.size === 1 ? [...this.#changed][0] : null;
    this.#changed.clear();
    await this.runner.start(only);
  }

  #clear(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#pending = false;
  }
}
