/**
 * Crash recovery for the unsaved session. The app writes the current experiment every
 * few seconds while it has unsaved changes, and clears it once they are saved or
 * deliberately discarded; whatever is still there at the next start was left by a
 * session that ended without doing so (a crash, a kill, a power cut), and is offered back.
 *
 * The autosave is an ordinary experiment file (`<appData>/autosave/session.tiller.json`
 * with its sidecar), saved atomically, so a crash during an autosave leaves the previous
 * one. One store per app-data folder: the app holds the single-instance lock.
 *
 * Beside it, `session.origin.json` names the file the session was editing, so restored
 * work saves back to that file instead of forking into a new one. The two files are
 * written one after the other, so the origin carries the experiment's updatedAt and is
 * believed only when it matches: after a crash between the two writes the recovered
 * work has no file (Save asks where) rather than another document's.
 */
import { existsSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { EngineError } from '../errors';
import { writeAtomically } from '../write-atomically';
import { openExperiment, removeExperiment, saveExperiment } from './file';
import type { Experiment } from './schema';

/** What a previous session left: the experiment and the file it came from (null: never saved). */
export interface RecoveredSession {
  experiment: Experiment;
  path: string | null;
}

const originSchema = z.strictObject({ path: z.string().min(1).nullable(), updatedAt: z.string() });
/** An origin file is a path and a date; anything much larger is not one. */
const MAX_ORIGIN_BYTES = 64 * 1024;

export class AutosaveStore {
  readonly path: string;
  readonly originPath: string;

  constructor(appDataDir: string) {
    this.path = join(appDataDir, 'autosave', 'session.tiller.json');
    this.originPath = join(appDataDir, 'autosave', 'session.origin.json');
  }

  /**
   * Keep `experiment` for recovery, with the file it was opened from or last saved to
   * (`origin`, null for unsaved work); null clears both (after a save, or when the user
   * discards changes).
   */
  write(experiment: Experiment | null, origin: string | null = null): void {
    if (experiment) {
      saveExperiment(this.path, experiment);
      writeAtomically(this.originPath, new TextEncoder().encode(JSON.stringify({ path: origin, updatedAt: experiment.updatedAt })));
    } else {
      removeExperiment(this.path);
      rmSync(this.originPath, { force: true });
    }
  }

  /**
   * The session a previous one left, or null. An autosave that no longer opens is
   * moved aside (so the app is not stuck on it at every start) and reported.
   */
  recover(): RecoveredSession | null {
    if (!existsSync(this.path)) return null;
    try {
      const { experiment } = openExperiment(this.path);
      return { experiment, path: this.#origin(experiment) };
    } catch (error) {
      if (!(error instanceof EngineError)) throw error;
      const aside = join(dirname(this.path), `broken-${Date.now()}.json`);
      renameSync(this.path, aside);
      throw new EngineError('bad_experiment', `the autosaved session could not be recovered and was moved to ${aside}: ${error.message}`);
    }
  }

  /** The file the recovered experiment belongs to; null when unknown, unreadable or written for another state. */
  #origin(experiment: Experiment): string | null {
    try {
      // Checked before reading: a FIFO or a huge file left at that name must not block the start.
      const stat = statSync(this.originPath);
      if (!stat.isFile() || stat.size > MAX_ORIGIN_BYTES) return null;
      const bytes = readFileSync(this.originPath);
      const origin = originSchema.safeParse(JSON.parse(bytes.toString('utf8')));
      return origin.success && origin.data.updatedAt === experiment.updatedAt ? origin.data.path : null;
    } catch {
      // Missing (work never saved before this feature) or torn: the work is recovered without a file.
      return null;
    }
  }
}

export interface AutosaveSchedulerOptions {
  /** At most one write per this many milliseconds (default 5000). */
  intervalMs?: number;
  /** Receives what a timed write threw; a timer has no caller to throw to. */
  onError: (error: unknown) => void;
}

/**
 * Throttles autosaves: after a change, one write within intervalMs, of the latest state,
 * and only if it differs from what was last written. Call changed() on every edit.
 */
export class AutosaveScheduler {
  readonly #store: Pick<AutosaveStore, 'write'>;
  readonly #intervalMs: number;
  readonly #onError: (error: unknown) => void;
  #pending: Experiment | null = null;
  #lastWritten: string | null = null;
  #timer: ReturnType<typeof setTimeout> | null = null;

  constructor(store: Pick<AutosaveStore, 'write'>, options: AutosaveSchedulerOptions) {
    this.#store = store;
    this.#intervalMs = options.intervalMs ?? 5000;
    this.#onError = options.onError;
  }

  /** The session changed; it will be written within intervalMs. */
  changed(experiment: Experiment): void {
    this.#pending = experiment;
    if (this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      try {
        this.flush();
      } catch (error) {
        this.#onError(error);
      }
    }, this.#intervalMs);
    this.#timer.unref?.(); // a pending autosave must not keep the process alive
  }

  /** Write the pending state now (e.g. before quitting without saving). Throws what the store throws. */
  flush(): void {
    this.#cancel();
    const pending = this.#pending;
    if (!pending) return;
    const text = JSON.stringify(pending);
    if (text !== this.#lastWritten) {
      this.#store.write(pending);
      this.#lastWritten = text;
    }
    this.#pending = null; // kept when the write throws, so the next flush retries it
  }

  /** The session was saved or discarded: drop the pending state and clear the autosave. */
  clear(): void {
    this.#cancel();
    this.#pending = null;
    this.#lastWritten = null;
    this.#store.write(null);
  }

  /** Stop the timer; pending changes are dropped (flush first to keep them). */
  dispose(): void {
    this.#cancel();
    this.#pending = null;
  }

  #cancel(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }
}
