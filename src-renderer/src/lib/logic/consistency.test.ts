import { describe, expect, it } from 'vitest';
import { agreementStrip, agreementText } from './consistency';

describe('internal consistency in the Compare view', () => {
  it('draws one segment per block, filled where the block agrees', () => {
    expect(agreementStrip([5, 7, 7, 7], 7)).toBe(
      'linear-gradient(to right, var(--border-strong) 0.000% 25.000%, var(--accent) 25.000% 50.000%, var(--accent) 50.000% 75.000%, var(--accent) 75.000% 100.000%)',
    );
  });

  it('counts the agreeing blocks before the last and names every agreeing block', () => {
    expect(agreementText([7, 7, 3, 7, 7], 7)).toBe('3 of 4 blocks before the last (agreeing: 0-1, 3-4)');
    expect(agreementText([1, 2, 3], 7)).toBe('0 of 2 blocks before the last');
  });
});
