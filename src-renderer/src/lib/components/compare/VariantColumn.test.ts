import { render } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import type { TokenRecord } from '../../api/types';
import { diffTokens } from '../../logic/diff';
import type { CompareColumn } from '../../state/workbench.svelte';
import { token } from '../../../test/fixtures';
import VariantColumn from './VariantColumn.svelte';

const readings: TokenRecord[] = [
  { ...token(7, ' True', -0.1), lensTop1: [3, 7, 7, 7, 7] },
  { ...token(8, '.', -0.2), lensTop1: [3, 3, 3, 8, 8] },
];

function column(tokens: TokenRecord[], answer: CompareColumn['answer'] = null): CompareColumn {
  return { variantId: 'a', name: 'A', tokens, stopReason: 'max_tokens', tokensPerSecond: 10, answer };
}

function header(col: CompareColumn, from: 0 | 'middle' = 0): string {
  const { container } = render(VariantColumn, {
    props: { column: col, baseline: null, diff: diffTokens(col.tokens, col.tokens), colorIndex: 0, from, streaming: false, active: null, onhover: () => {}, onleave: () => {} },
  });
  return container.querySelector('header')?.textContent ?? '';
}

describe('variant column: internal consistency', () => {
  it('scores the response from the chosen block, with the answer over the answer set beside it', () => {
    const answer = { answers: [7, 9], answerTexts: ['▁True', '▁False'], at: { index: 0, token: 7, readings: [9, 9, 7, 7, 7], score: 0.5 }, warnings: [] };
    expect(header(column(readings, answer))).toMatch(/IC 0\.50\s*IC\(Y\) 0\.50/); // tokens 3/4 and 1/4; answer 2 of 4
    expect(header(column(readings, answer), 'middle')).toMatch(/IC 0\.75\s*IC\(Y\) 1\.00/); // blocks 2-3
    expect(header(column(readings, answer))).not.toContain('⚠');
    expect(header(column(readings, { ...answer, warnings: ['answer " Truly" is 2 tokens'] }))).toMatch(/IC\(Y\) 0\.50\s⚠/); // a tokenization warning is flagged
  });

  it('shows no score and no strip for a run made with the lens pass off (its tokens carry no readings)', () => {
    const plain = readings.map(({ lensTop1: _, ...rest }) => rest);
    const { container } = render(VariantColumn, {
      props: { column: column(plain), baseline: null, diff: diffTokens(plain, plain), colorIndex: 0, from: 0, streaming: false, active: null, onhover: () => {}, onleave: () => {} },
    });
    expect(container.querySelector('header')?.textContent).not.toContain('IC');
    expect(container.querySelectorAll('.lensed')).toHaveLength(0);
  });
});
