import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Variant, VariantIssue } from '../api/types';
import { newVariant } from '../logic/defaults';
import { MODEL } from '../../test/fixtures';
import { EngineChecks } from './engine-checks.svelte';

const clamp = (layer: number): Variant['interventions'][number] => ({ op: 'set', hook: `blocks.${layer}.mlp.hook_post`, indices: [0], values: [0], positions: 'all' });

describe('engine checks', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('ask about every variant once editing pauses, once per state, keeping warnings apart', async () => {
    const warning: VariantIssue = { path: 'interventions[0]', message: 'no effect', severity: 'warning' };
    const validateVariant = vi.fn(async ({ variant }: { variant: Variant }) => ({ issues: variant.name === 'B' ? [warning] : [] }));
    const checks = new EngineChecks({ validateVariant }, 400);
    const a = { ...newVariant('A'), interventions: [clamp(1)] };
    const b = { ...newVariant('B'), interventions: [clamp(2)] };
    checks.sync([a, b], MODEL);
    expect(checks.result(a, MODEL)).toEqual({ state: 'checking' });
    checks.sync([a, b], MODEL); // an edit before the pause: still one request each
    await vi.advanceTimersByTimeAsync(400);
    expect(validateVariant).toHaveBeenCalledTimes(2);
    expect(checks.result(a, MODEL)).toEqual({ state: 'done', issues: [] });
    expect(checks.result(b, MODEL)).toEqual({ state: 'done', issues: [{ path: 'interventions.0', message: 'no effect', severity: 'warning' }] });
    checks.sync([a, b], MODEL);
    await vi.advanceTimersByTimeAsync(400);
    expect(validateVariant).toHaveBeenCalledTimes(2);
  });

  it('never send a variant the quick checks refuse, nor ask without a model', async () => {
    const validateVariant = vi.fn(async () => ({ issues: [] }));
    const checks = new EngineChecks({ validateVariant }, 0);
    const broken = { ...newVariant('X'), interventions: [clamp(9)] };
    checks.sync([broken], MODEL);
    checks.sync([newVariant('Y')], null);
    await vi.advanceTimersByTimeAsync(10);
    expect(validateVariant).not.toHaveBeenCalled();
    expect(checks.result(broken, MODEL)).toBeNull();
  });

  it('drop an answer for a state the variant has left', async () => {
    let answer: (value: { issues: VariantIssue[] }) => void = () => {};
    const validateVariant = vi.fn(() => new Promise<{ issues: VariantIssue[] }>((resolve) => (answer = resolve)));
    const checks = new EngineChecks({ validateVariant }, 0);
    const before = { ...newVariant('A'), interventions: [clamp(1)] };
    checks.sync([before], MODEL);
    await vi.advanceTimersByTimeAsync(1);
    const after = { ...before, interventions: [clamp(2)] };
    checks.sync([after], MODEL);
    answer({ issues: [{ path: 'interventions[0].hook', message: 'old news' }] });
    await vi.advanceTimersByTimeAsync(1);
    expect(checks.result(before, MODEL)).toEqual({ state: 'checking' }); // forgotten, not answered
    expect(checks.result(after, MODEL)).toEqual({ state: 'checking' });
  });
});
