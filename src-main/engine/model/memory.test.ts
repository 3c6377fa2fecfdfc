import { describe, expect, it } from 'vitest';
import { expectEngineError } from '../../test/expect-engine-error';
import { sharedPath } from '../../test/shared-paths';
import { specFromConfig } from './config';
import { adviseFormat, checkMemory, memoryEstimate } from './memory';
import { weightFileBytes, weightOptions } from './weight-format';

const smolLm = specFromConfig(sharedPath('hf-meta', 'HuggingFaceTB__SmolLM2-135M-Instruct'));
const mistral = specFromConfig(sharedPath('hf-meta', 'mistralai__Mistral-7B-v0.1'));

describe('weightFileBytes', () => {
  it('float32: every parameter (SmolLM2-135M has 134,515,008), the tied head again, and the rotary tables', () => {
    expect(weightFileBytes(smolLm, weightOptions('f32'))).toBe((134_515_008 + 49_152 * 576) * 4 + 8192 * 64 * 4);
  });

  it('int8 and int4 cost about 1.16 and 0.64 bytes per matrix weight at block 32, plus a float16 embedding', () => {
    const matrixWeights = 134_515_008 - 49_152 * 576 - (2 * 30 + 1) * 576 + 49_152 * 576; // layers and head, not the embedding or norms
    const rest = 49_152 * 576 * 2 + (2 * 30 + 1) * 576 * 4 + 8192 * 64 * 4;
    expect(weightFileBytes(smolLm, weightOptions('int8'))).toBe(matrixWeights * (1 + 4 / 32 + 1 / 32) + rest);
    expect(weightFileBytes(smolLm, weightOptions('int4'))).toBe(matrixWeights * (0.5 + 4 / 32 + 0.5 / 32) + rest);
  });
});

describe('memory check', () => {
  it('refuses a 7B model in float32 on 16 GB, with the numbers and the formats that fit', async () => {
    const error = await expectEngineError(() => checkMemory(mistral, weightOptions('f32'), 16e9, 'Mistral-7B'), 'insufficient_memory', 'Mistral-7B needs about', 'f32 weights', '16.0 GB of memory is available', 'int8 needs about', 'int4 needs about');
    expect(error.details).toEqual({ neededBytes: memoryEstimate(mistral, weightOptions('f32')).totalBytes, availableBytes: 16e9 });
    expect(() => checkMemory(mistral, weightOptions('int8'), 16e9, 'Mistral-7B')).not.toThrow();
  });

  it('says when no format fits', async () => {
    await expectEngineError(() => checkMemory(mistral, weightOptions('int4'), 2e9, 'Mistral-7B'), 'insufficient_memory', 'no weight format fits');
  });
});

describe('adviseFormat', () => {
  it('keeps float32 when it fits comfortably', () => {
    expect(adviseFormat(smolLm, 16e9)).toMatchObject({ recommended: 'f32' });
  });

  it('proposes int8 for a 7B model on 16 GB, and says why', () => {
    const advice = adviseFormat(mistral, 16e9);
    expect(advice.recommended).toBe('int8');
    expect(advice.reason).toMatch(/^float32 weights need about 3\d\.\d GB and do not fit in the 16\.0 GB available; int8 needs about \d+\.\d GB$/);
    expect(advice.estimates.int4.totalBytes).toBeLessThan(advice.estimates.int8.totalBytes);
  });

  it('proposes int4 when int8 does not fit either, and nothing when int4 does not', () => {
    expect(adviseFormat(mistral, 7e9).recommended).toBe('int4');
    expect(adviseFormat(mistral, 2e9)).toMatchObject({ recommended: null, reason: expect.stringContaining('even int4') });
  });
});
