import { describe, expect, it } from 'vitest';
import { defaultGenerationSettings, generationSettingsSchema } from './settings';

describe('generationSettingsSchema', () => {
  it('fills every default', () => {
    expect(generationSettingsSchema.parse({})).toEqual({
      maxNewTokens: 128,
      temperature: 0,
      topK: 0,
      topP: 1,
      repetitionPenalty: 1,
      seed: 0,
      stopAtEos: true,
      stopStrings: [],
    });
    expect(defaultGenerationSettings).toEqual(generationSettingsSchema.parse({}));
  });

  it('keeps valid values', () => {
    const input = { maxNewTokens: 8192, temperature: 0.7, topK: 40, topP: 0.9, repetitionPenalty: 1.2, seed: 99, stopAtEos: false, stopStrings: ['\n\n'] };
    expect(generationSettingsSchema.parse(input)).toEqual(input);
  });

  it.each([
    { maxNewTokens: 0 },
    { maxNewTokens: 8193 },
    { maxNewTokens: 1.5 },
    { temperature: -0.1 },
    { temperature: Number.POSITIVE_INFINITY },
    { topK: -1 },
    { topK: 2.5 },
    { topP: 0 },
    { topP: 1.01 },
    { repetitionPenalty: 0 },
    { seed: -1 },
    { stopStrings: [''] },
    { temprature: 1 }, // misspelt keys fail instead of silently using the default
  ])('rejects %o', (input) => {
    expect(generationSettingsSchema.safeParse(input).success).toBe(false);
  });

  it('freezes the shared defaults', () => {
    expect(Object.isFrozen(defaultGenerationSettings)).toBe(true);
    expect(Object.isFrozen(defaultGenerationSettings.stopStrings)).toBe(true);
  });
});
