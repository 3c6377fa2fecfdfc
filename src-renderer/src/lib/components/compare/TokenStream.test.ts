import { fireEvent, render, screen } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import { diffTokens } from '../../logic/diff';
import { token } from '../../../test/fixtures';
import TokenStream from './TokenStream.svelte';

const baseline = [token(1, 'Once', -0.1), token(2, ' upon', -0.2), token(3, ' a', -0.3), token(4, ' time', -0.4)];
const steered = [token(1, 'Once', -0.1), token(9, ' there', -0.2), token(3, ' a', -0.3), token(5, ' dog', -0.4)];

describe('token stream', () => {
  it('highlights exactly the tokens the diff pairs with nothing in the baseline', () => {
    const { container } = render(TokenStream, {
      props: { tokens: steered, comparisons: diffTokens(baseline, steered).comparisons, isBaseline: false, active: null, onhover: () => {}, onleave: () => {} },
    });
    const highlighted = [...container.querySelectorAll('[data-diff="true"]')].map((element) => element.textContent);
    expect(highlighted).toEqual([' there', ' dog']);
    expect(container.textContent).toBe('Once there a dog');
  });

  it('after an inserted token, highlights only it: the shifted tokens that match stay plain, muted as read in another context', () => {
    const inserted = [token(1, 'Once', -0.1), token(7, ' more', -2), token(2, ' upon', -0.2), token(3, ' a', -0.3), token(4, ' time', -0.4)];
    const { container } = render(TokenStream, {
      props: { tokens: inserted, comparisons: diffTokens(baseline, inserted).comparisons, isBaseline: false, active: null, onhover: () => {}, onleave: () => {} },
    });
    expect([...container.querySelectorAll('[data-diff="true"]')].map((element) => element.textContent)).toEqual([' more']);
    expect([...container.querySelectorAll('.diverged')].map((element) => element.textContent)).toEqual([' upon', ' a', ' time']);
  });

  it('highlights nothing in the baseline column', () => {
    const { container } = render(TokenStream, {
      props: { tokens: baseline, comparisons: diffTokens(baseline, baseline).comparisons, isBaseline: true, active: null, onhover: () => {}, onleave: () => {} },
    });
    expect(container.querySelectorAll('[data-diff="true"]')).toHaveLength(0);
  });

  it('reports the hovered token', async () => {
    const onhover = vi.fn();
    render(TokenStream, { props: { tokens: steered, comparisons: diffTokens(baseline, steered).comparisons, isBaseline: false, active: null, onhover, onleave: () => {} } });
    await fireEvent.mouseOver(screen.getByText('dog', { exact: false }));
    expect(onhover).toHaveBeenCalledWith(3, expect.anything());
  });

  it('is one tab stop; arrow keys, Home and End move focus between tokens and report each', async () => {
    const onhover = vi.fn();
    render(TokenStream, { props: { tokens: steered, comparisons: diffTokens(baseline, steered).comparisons, isBaseline: false, active: null, onhover, onleave: () => {} } });
    const options = screen.getAllByRole('option');
    const tabStops = () => options.map((option) => option.tabIndex);
    expect(tabStops()).toEqual([0, -1, -1, -1]);

    options[0].focus();
    expect(onhover).toHaveBeenLastCalledWith(0, expect.anything());
    await fireEvent.keyDown(options[0], { key: 'ArrowRight' });
    expect(document.activeElement).toBe(options[1]);
    expect(onhover).toHaveBeenLastCalledWith(1, expect.anything());
    expect(tabStops()).toEqual([-1, 0, -1, -1]);
    expect(options[1].getAttribute('aria-selected')).toBe('true');

    await fireEvent.keyDown(options[1], { key: 'End' });
    expect(document.activeElement).toBe(options[3]);
    await fireEvent.keyDown(options[3], { key: 'ArrowRight' }); // stays on the last token
    expect(document.activeElement).toBe(options[3]);
    await fireEvent.keyDown(options[3], { key: 'Home' });
    await fireEvent.keyDown(options[0], { key: 'ArrowLeft' });
    expect(document.activeElement).toBe(options[0]);
    expect(tabStops()).toEqual([0, -1, -1, -1]);
  });

  it('hides the details on Escape without moving focus or stopping the run, and on blur', async () => {
    const onleave = vi.fn();
    const appKeys = vi.fn();
    window.addEventListener('keydown', appKeys);
    try {
      const { rerender } = render(TokenStream, {
        props: { tokens: steered, comparisons: diffTokens(baseline, steered).comparisons, isBaseline: false, active: null, tooltipId: 'details', onhover: () => {}, onleave },
      });
      const options = screen.getAllByRole('option');
      options[2].focus();
      await rerender({ active: 2 }); // the view shows the details of the reported token
      expect(options[2].getAttribute('aria-describedby')).toBe('details');

      await fireEvent.keyDown(options[2], { key: 'Escape' });
      expect(onleave).toHaveBeenCalledTimes(1);
      expect(document.activeElement).toBe(options[2]);
      expect(appKeys).not.toHaveBeenCalled(); // the app's Escape (stop the run) is not triggered

      await rerender({ active: null });
      await fireEvent.keyDown(options[2], { key: 'Escape' }); // nothing showing: Escape is the app's again
      expect(onleave).toHaveBeenCalledTimes(1);
      expect(appKeys).toHaveBeenCalledTimes(1);

      options[2].blur();
      expect(onleave).toHaveBeenCalledTimes(2);
    } finally {
      window.removeEventListener('keydown', appKeys);
    }
  });
});
