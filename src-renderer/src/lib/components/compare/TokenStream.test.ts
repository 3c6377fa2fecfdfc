import { fireEvent, render, screen } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import { compareTokens } from '../../logic/diff';
import { token } from '../../../test/fixtures';
import TokenStream from './TokenStream.svelte';

const baseline = [token(1, 'Once', -0.1), token(2, ' upon', -0.2), token(3, ' a', -0.3), token(4, ' time', -0.4)];
const steered = [token(1, 'Once', -0.1), token(9, ' there', -0.2), token(3, ' a', -0.3), token(5, ' dog', -0.4)];

describe('token stream', () => {
  it('highlights exactly the tokens that differ from the baseline at the same index', () => {
    const { container } = render(TokenStream, {
      props: { tokens: steered, comparisons: compareTokens(baseline, steered), isBaseline: false, active: null, onhover: () => {}, onleave: () => {} },
    });
    const highlighted = [...container.querySelectorAll('[data-diff="true"]')].map((element) => element.textContent);
    expect(highlighted).toEqual([' there', ' dog']);
    expect(container.textContent).toBe('Once there a dog');
  });

  it('highlights nothing in the baseline column', () => {
    const { container } = render(TokenStream, {
      props: { tokens: baseline, comparisons: compareTokens(baseline, baseline), isBaseline: true, active: null, onhover: () => {}, onleave: () => {} },
    });
    expect(container.querySelectorAll('[data-diff="true"]')).toHaveLength(0);
  });

  it('reports the hovered token', async () => {
    const onhover = vi.fn();
    render(TokenStream, { props: { tokens: steered, comparisons: compareTokens(baseline, steered), isBaseline: false, active: null, onhover, onleave: () => {} } });
    await fireEvent.mouseOver(screen.getByText('dog', { exact: false }));
    expect(onhover).toHaveBeenCalledWith(3, expect.anything());
  });
});
