/** Live strength: debounced, one run for a burst of changes, the previous run stopped first. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LiveStrength } from './live-strength.svelte';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

function runner() {
  const calls: string[] = [];
  return {
    calls,
    runner: {
      stop: vi.fn(async () => void calls.push('stop')),
      start: vi.fn(async (only: string | null) => void calls.push(`start ${only}`)),
    },
  };
}

describe('LiveStrength', () => {
  it('does nothing while off', async () => {
    const { runner: r } = runner();
    const live = new LiveStrength(r, 100);
    live.nudge('a');
    await vi.advanceTimersByTimeAsync(500);
    expect(r.start).not.toHaveBeenCalled();
  });

  it('starts one run after a burst of changes rests, stopping the previous run first', async () => {
    const { runner: r, calls } = runner();
    const live = new LiveStrength(r, 100);
    live.on = true;
    live.nudge('a');
    await vi.advanceTimersByTimeAsync(60);
    live.nudge('a');
    await vi.advanceTimersByTimeAsync(60);
    live.nudge('a');
    expect(live.pending).toBe(true);
    await vi.advanceTimersByTimeAsync(99);
    expect(r.start).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toEqual(['stop', 'start a']);
    expect(live.pending).toBe(false);
  });

  it('skips a run whose change was overtaken while the old run wound down', async () => {
    let release: () => void = () => undefined;
    const r = { stop: vi.fn(() => new Promise<void>((resolve) => (release = resolve))), start: vi.fn(async () => undefined) };
    const live = new LiveStrength(r, 100);
    live.on = true;
    live.nudge('a');
    await vi.advanceTimersByTimeAsync(100); // first timer fires, waits on stop
    live.nudge('a'); // a newer change
    release();
    await vi.advanceTimersByTimeAsync(0);
    expect(r.start).not.toHaveBeenCalled();
    r.stop.mockImplementation(async () => undefined);
    await vi.advanceTimersByTimeAsync(100);
    expect(r.start).toHaveBeenCalledTimes(1);
  });

  it('regenerates only the variant whose scale moved; every variant when several did', async () => {
    const { runner: r, calls } = runner();
    const live = new LiveStrength(r, 100);
    live.on = true;
    live.nudge('b');
    live.nudge('b');
    await vi.advanceTimersByTimeAsync(100);
    live.nudge('b');
    live.nudge('c');
    await vi.advanceTimersByTimeAsync(100);
    live.nudge('c');
    await vi.advanceTimersByTimeAsync(100);
    expect(calls).toEqual(['stop', 'start b', 'stop', 'start null', 'stop', 'start c']);
  });

  it('turning it off drops a waiting change', async () => {
    const { runner: r } = runner();
    const live = new LiveStrength(r, 100);
    live.on = true;
    live.nudge('a');
    live.on = false;
    await vi.advanceTimersByTimeAsync(200);
    expect(r.stop).not.toHaveBeenCalled();
    expect(live.pending).toBe(false);
  });
});
