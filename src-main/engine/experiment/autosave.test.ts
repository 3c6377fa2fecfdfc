import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { expectEngineError } from '../../test/expect-engine-error';
import { AutosaveScheduler, AutosaveStore } from './autosave';
import type { Experiment } from './schema';
import { sampleExperiment } from './test/fixtures';

let appData: string;
beforeEach(() => {
  appData = mkdtempSync(join(tmpdir(), 'tiller-autosave-'));
});
afterEach(() => {
  vi.useRealTimers();
  rmSync(appData, { recursive: true, force: true });
});

describe('AutosaveStore', () => {
  it('recovers nothing when no session left an autosave', () => {
    expect(new AutosaveStore(appData).recover()).toBeNull();
  });

  it('recovers what a session wrote and did not clear, in a new store (the next start)', () => {
    new AutosaveStore(appData).write(sampleExperiment(4));
    expect(new AutosaveStore(appData).recover()).toEqual({ experiment: sampleExperiment(4), path: null });
  });

  it('recovers the file the session was editing, so restored work saves back to it', () => {
    const origin = join(appData, 'runs', 'sweep.tiller.json');
    new AutosaveStore(appData).write(sampleExperiment(4), origin);
    expect(new AutosaveStore(appData).recover()).toEqual({ experiment: sampleExperiment(4), path: origin });
  });

  it('drops an origin written for another state of the session (a crash between the two writes)', () => {
    const store = new AutosaveStore(appData);
    store.write(sampleExperiment(4), join(appData, 'a.tiller.json'));
    const origin = readFileSync(store.originPath, 'utf8');
    store.write({ ...sampleExperiment(5), updatedAt: '2030-01-01T00:00:00.000Z' }, join(appData, 'b.tiller.json'));
    writeFileSync(store.originPath, origin); // as if the second origin write never happened
    expect(store.recover()?.path).toBeNull();
  });

  it('recovers the work without a file when the origin is torn or not a file', () => {
    const store = new AutosaveStore(appData);
    store.write(sampleExperiment(4), join(appData, 'a.tiller.json'));
    writeFileSync(store.originPath, '{"path": "/x/a.tiller.json", "upd');
    expect(store.recover()).toEqual({ experiment: sampleExperiment(4), path: null });
    rmSync(store.originPath);
    mkdirSync(store.originPath);
    expect(store.recover()).toEqual({ experiment: sampleExperiment(4), path: null });
  });

  it('recovers nothing after write(null), and leaves no files', () => {
    const store = new AutosaveStore(appData);
    store.write(sampleExperiment(4));
    store.write(null);
    expect(new AutosaveStore(appData).recover()).toBeNull();
    expect(existsSync(store.originPath)).toBe(false);
    expect(readdirSync(dirname(store.path))).toEqual([]);
  });

  it('moves a broken autosave aside and says where', async () => {
    const store = new AutosaveStore(appData);
    store.write(sampleExperiment(4));
    writeFileSync(store.path, '{"format": "tiller-experiment", "version": 1, "name": 7}');
    await expectEngineError(() => store.recover(), 'bad_experiment', 'could not be recovered', 'broken-');
    expect(existsSync(store.path)).toBe(false);
    expect(store.recover()).toBeNull(); // the next start is not stuck on it
  });
});

describe('AutosaveScheduler', () => {
  function recordingStore() {
    const writes: (Experiment | null)[] = [];
    return { writes, store: { write: (experiment: Experiment | null) => void writes.push(experiment) } };
  }

  it('writes the latest state at most once per interval, only when it changed', () => {
    vi.useFakeTimers();
    const { writes, store } = recordingStore();
    const scheduler = new AutosaveScheduler(store, { intervalMs: 3000, onError: (error) => { throw error; } });
    scheduler.changed(sampleExperiment(1));
    scheduler.changed(sampleExperiment(2));
    vi.advanceTimersByTime(2999);
    expect(writes).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(writes).toEqual([sampleExperiment(2)]);

    scheduler.changed(sampleExperiment(2)); // same content as written: nothing to do
    vi.advanceTimersByTime(3000);
    expect(writes).toHaveLength(1);

    scheduler.changed(sampleExperiment(3));
    scheduler.flush(); // e.g. before quitting
    expect(writes).toEqual([sampleExperiment(2), sampleExperiment(3)]);
    vi.advanceTimersByTime(10_000);
    expect(writes).toHaveLength(2);
  });

  it('clear() drops pending changes and clears the store; dispose() stops the timer', () => {
    vi.useFakeTimers();
    const { writes, store } = recordingStore();
    const scheduler = new AutosaveScheduler(store, { intervalMs: 1000, onError: (error) => { throw error; } });
    scheduler.changed(sampleExperiment(1));
    scheduler.clear();
    vi.advanceTimersByTime(5000);
    expect(writes).toEqual([null]);
    scheduler.changed(sampleExperiment(1));
    scheduler.dispose();
    vi.advanceTimersByTime(5000);
    expect(writes).toEqual([null]);
  });

  it('hands errors of timed writes to onError and retries on the next change', () => {
    vi.useFakeTimers();
    const errors: unknown[] = [];
    let failing = true;
    const written: Experiment[] = [];
    const store = {
      write: (experiment: Experiment | null) => {
        if (failing) throw new Error('disk full');
        if (experiment) written.push(experiment);
      },
    };
    const scheduler = new AutosaveScheduler(store, { intervalMs: 1000, onError: (error) => errors.push(error) });
    scheduler.changed(sampleExperiment(1));
    vi.advanceTimersByTime(1000);
    expect(errors).toEqual([new Error('disk full')]);
    failing = false;
    scheduler.flush();
    expect(written).toEqual([sampleExperiment(1)]);
  });

  it('drives a real store', () => {
    vi.useFakeTimers();
    const store = new AutosaveStore(appData);
    const scheduler = new AutosaveScheduler(store, { intervalMs: 2000, onError: (error) => { throw error; } });
    scheduler.changed(sampleExperiment(6));
    vi.advanceTimersByTime(2000);
    expect(new AutosaveStore(appData).recover()?.experiment).toEqual(sampleExperiment(6));
    scheduler.clear();
    expect(new AutosaveStore(appData).recover()).toBeNull();
  });
});
