import { describe, expect, it } from 'vitest';
import type { AnswerConsistency } from '../../../../src-shared/consistency';
import { agreementStrip, agreementText, answerSummary, fromLayerOptions, parseAnswers } from './consistency';

describe('internal consistency in the Compare view', () => {
  it('draws one segment per block, filled where the block agrees', () => {
    expect(agreementStrip([5, 7, 7, 7], 7)).toBe(
      'linear-gradient(to right, var(--border-strong) 0.000% 25.000%, var(--accent) 25.000% 50.000%, var(--accent) 50.000% 75.000%, var(--accent) 75.000% 100.000%)',
    );
  });

  it('draws the blocks before the first one the score counts faint', () => {
    expect(agreementStrip([5, 7, 7, 7], 7, 'middle')).toBe(
      'linear-gradient(to right, color-mix(in srgb, var(--border-strong) 35%, transparent) 0.000% 25.000%, color-mix(in srgb, var(--accent) 35%, transparent) 25.000% 50.000%, var(--accent) 50.000% 75.000%, var(--accent) 75.000% 100.000%)',
    );
  });

  it('counts the agreeing blocks of the layer set and names every agreeing block', () => {
    expect(agreementText([7, 7, 3, 7, 7], 7)).toBe('3 of 4 blocks before the last (agreeing: 0-1, 3-4)');
    expect(agreementText([1, 2, 3], 7)).toBe('0 of 2 blocks before the last');
    expect(agreementText([7, 7, 3, 7, 7], 7, 'middle')).toBe('1 of 2 blocks 2-3 (agreeing: 0-1, 3-4)');
    expect(agreementText([7, 7, 3, 7, 7], 7, 4)).toBe('0 of 0 blocks (agreeing: 0-1, 3-4)');
  });

  it("scores the answer over the answer set from the chosen block, and says why there is no score", () => {
    const answer: AnswerConsistency = { answers: [10, 11], answerTexts: ['▁True', '▁False'], at: { index: 3, token: 11, readings: [10, 10, 11, 11, 11], score: 0.5 }, warnings: [] };
    expect(answerSummary(answer, 0)).toEqual({
      label: 'IC(Y) 0.50',
      title: 'Internal consistency over the answer set {"▁True", "▁False"} at the answer "▁False" (token #3): the share of blocks 0-3 whose lens, over these answers only, already picks it.',
      warned: false,
    });
    expect(answerSummary(answer, 'middle').label).toBe('IC(Y) 1.00');
    expect(answerSummary(answer, 7)).toEqual({ label: 'IC(Y) –', title: 'The model has 5 blocks: the scores cannot start at block 7.', warned: false });
    const none = answerSummary({ ...answer, at: null, warnings: ['the response never emits an answer token'] }, 0);
    expect(none).toEqual({ label: 'IC(Y) –', title: 'Internal consistency over the answer set {"▁True", "▁False"}: no answer to score.\nthe response never emits an answer token', warned: true });
  });

  it('offers every start block the model scores, the middle named, and keeps a choice the model does not have', () => {
    expect(fromLayerOptions(5, 0)).toEqual([
      { value: 0, label: 'Every block but the last' },
      { value: 'middle', label: 'From the middle block (2)' },
      { value: 1, label: 'From block 1' },
      { value: 2, label: 'From block 2' },
      { value: 3, label: 'From block 3' },
    ]);
    expect(fromLayerOptions(null, 6).map((option) => option.value)).toEqual([0, 'middle', 6]);
  });

  it('reads the answers field as comma-separated answers, keeping their leading spaces', () => {
    expect(parseAnswers(' True, False')).toEqual([' True', ' False']);
    expect(parseAnswers('A,B,')).toEqual(['A', 'B']);
    expect(parseAnswers('')).toEqual([]);
  });
});
