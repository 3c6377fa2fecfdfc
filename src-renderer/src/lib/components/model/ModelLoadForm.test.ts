import { fireEvent, render, screen } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import type { ModelMemory } from '../../api/types';
import ModelLoadForm from './ModelLoadForm.svelte';

const SEVEN_B: ModelMemory = {
  needs: { f32: 30.6e9, int8: 8.4e9, int4: 5.1e9 },
  availableBytes: 16e9,
  recommended: 'int8',
  reason: 'float32 weights need about 30.6 GB and do not fit in the 16.0 GB available; int8 needs about 8.4 GB',
};

function setup(memory: ModelMemory | null, conversion: { weights: string; doneBytes: number; totalBytes: number; bytesPerSecond: number } | null = null) {
  const onload = vi.fn();
  const oncheck = vi.fn();
  render(ModelLoadForm, {
    props: { loadingPath: conversion ? '/models/big' : null, error: null, nativeDialogs: false, initialPath: '/models/big', memoryOf: () => memory, conversion, oncheck, onload, onbrowse: () => {} },
  });
  return { onload, oncheck };
}

describe('model load form', () => {
  it('shows what each weight format needs before loading and proposes the engine\'s choice, saying why', async () => {
    const { onload } = setup(SEVEN_B);
    const select = screen.getByLabelText('Weights') as HTMLSelectElement;
    expect(select.value).toBe('int8');
    const options = [...select.options].map((option) => [option.textContent?.trim(), option.disabled]);
    expect(options).toEqual([
      ['float32 — needs about 28.5 GiB', true], // more than is available
      ['int8 — needs about 7.82 GiB', false],
      ['int4 — needs about 4.75 GiB', false],
    ]);
    expect(screen.getByLabelText('Weight format advice').textContent).toContain('do not fit in the 16.0 GB available');
    await fireEvent.click(screen.getByRole('button', { name: 'Load model' }));
    expect(onload).toHaveBeenCalledWith('/models/big', 'int8');
  });

  it('loads the format the user picks', async () => {
    const { onload } = setup(SEVEN_B);
    await fireEvent.change(screen.getByLabelText('Weights'), { target: { value: 'int4' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Load model' }));
    expect(onload).toHaveBeenCalledWith('/models/big', 'int4');
  });

  it('defaults to float32 while the memory is unknown, and asks the engine after a pause in typing', async () => {
    vi.useFakeTimers();
    try {
      const { oncheck } = setup(null);
      expect((screen.getByLabelText('Weights') as HTMLSelectElement).value).toBe('f32');
      vi.advanceTimersByTime(500);
      expect(oncheck).toHaveBeenCalledWith('/models/big');
    } finally {
      vi.useRealTimers();
    }
  });

  it('shows first-load conversion progress with its rate', () => {
    setup(SEVEN_B, { weights: 'int8-b32-a4', doneBytes: 3e9, totalBytes: 12e9, bytesPerSecond: 250e6 });
    expect(screen.getByRole('status').textContent).toMatch(/Converting \/models\/big to int8-b32-a4: 2\.79 GiB of 11\.2 GiB, 238\.4 MiB\/s/);
    const bar = screen.getByLabelText('Weight conversion') as HTMLProgressElement;
    expect([bar.value, bar.max]).toEqual([3e9, 12e9]);
  });
});
