import { render, screen } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import { newVariant } from '../../logic/defaults';
import VariantList from './VariantList.svelte';

describe('variant list', () => {
  it('marks variants with problems and, apart, variants that only have warnings', () => {
    const variants = [newVariant('Baseline'), newVariant('Broken'), newVariant('Skipped block'), newVariant('Fine')];
    const noop = () => {};
    render(VariantList, {
      props: { variants, selected: 0, invalid: new Set([variants[1].id]), warned: new Set([variants[2].id]), onselect: noop, onadd: noop, onduplicate: noop, onremove: noop },
    });
    expect(screen.getByRole('button', { name: /Broken/ }).querySelector('[aria-label="has problems"]')).toBeTruthy();
    const warned = screen.getByRole('button', { name: /Skipped block/ });
    expect(warned.querySelector('[aria-label="has warnings"]')?.textContent).toBe('⚠');
    expect(warned.querySelector('[aria-label="has problems"]')).toBeNull();
    expect(screen.getByRole('button', { name: /Fine/ }).querySelector('.mark')).toBeNull();
  });
});
