/** Attention patterns as the plan's captures give them, laid out [layer][head][query][key]. */
import { describe, expect, it } from 'vitest';
import { useRandomModel } from '../../test/fixtures/random-engine';
import { hookName } from '../hooks/names';
import { expectEngineError } from '../../test/expect-engine-error';
import { attentionResultSchema } from '../../../src-shared/analysis-schema';
import { attentionPatterns } from './attention';

const loaded = useRandomModel('attention', { config: 'HuggingFaceTB__SmolLM2-135M-Instruct', layers: 2, dModel: 64, dMlp: 128, nHeads: 6, nKvHeads: 2, dHead: 16, seed: 3 });

describe('attention patterns', () => {
  it('gives each head its causal softmax rows, as the capture of hook_pattern does', async () => {
    const ids = loaded.handle.tokenizer.encode('The cat sat on the mat');
    const result = await attentionPatterns(loaded.handle, { ids });
    expect(attentionResultSchema.parse(result)).toEqual(result);
    expect([result.patterns.length, result.patterns[0].length, result.patterns[0][0].length]).toEqual([2, 6, ids.length]);
    for (const row of result.patterns[1][4]) expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    expect(result.patterns[0][0][0].slice(1).every((weight) => weight === 0)).toBe(true); // query 0 sees only key 0
    const n = ids.length;
    const capture = (await loaded.handle.run(ids, { captures: [{ hook: hookName.pattern(1), positions: 'all' }] })).captures[hookName.pattern(1)].data;
    expect(result.patterns[1][5][n - 1]).toEqual(Array.from(capture.subarray((5 * n + n - 1) * n, (5 * n + n) * n)));
  });

  it('refuses prompts too long to keep', async () => {
    await expectEngineError(() => attentionPatterns(loaded.handle, { ids: new Array(200).fill(1) }), 'bad_argument', 'more than 128 tokens');
  });
});
