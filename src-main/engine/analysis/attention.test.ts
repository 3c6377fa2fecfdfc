/** Attention patterns as the plan's captures give them, laid out [layer][head][query][key]. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, type ModelHandle } from '../engine';
import { hookName } from '../hooks/names';
import { buildRandomModel } from '../../test/fixtures/random-model';
import { expectEngineError } from '../../test/expect-engine-error';
import { attentionResultSchema } from '../../../src-shared/analysis-schema';
import { attentionPatterns } from './attention';

const workDir = mkdtempSync(join(tmpdir(), 'tiller-attention-'));
let engine: Engine;
let handle: ModelHandle;

beforeAll(async () => {
  engine = Engine.create({ cacheDir: join(workDir, 'cache'), threads: 1 });
  const model = buildRandomModel(join(workDir, 'model'), { config: 'HuggingFaceTB__SmolLM2-135M-Instruct', layers: 2, dModel: 64, dMlp: 128, nHeads: 6, nKvHeads: 2, dHead: 16, seed: 3 });
  handle = await engine.loadModel(model.dir);
});

afterAll(async () => {
  await engine.close();
  rmSync(workDir, { recursive: true, force: true });
});

describe('attention patterns', () => {
  it('gives each head its causal softmax rows, as the capture of hook_pattern does', async () => {
    const ids = handle.tokenizer.encode('The cat sat on the mat');
    const result = await attentionPatterns(handle, { ids });
    expect(attentionResultSchema.parse(result)).toEqual(result);
    expect([result.patterns.length, result.patterns[0].length, result.patterns[0][0].length]).toEqual([2, 6, ids.length]);
    for (const row of result.patterns[1][4]) expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    expect(result.patterns[0][0][0].slice(1).every((weight) => weight === 0)).toBe(true); // query 0 sees only key 0
    const n = ids.length;
    const capture = (await handle.run(ids, { captures: [{ hook: hookName.pattern(1), positions: 'all' }] })).captures[hookName.pattern(1)].data;
    expect(result.patterns[1][5][n - 1]).toEqual(Array.from(capture.subarray((5 * n + n - 1) * n, (5 * n + n) * n)));
  });

  it('refuses prompts too long to keep', async () => {
    await expectEngineError(() => attentionPatterns(handle, { ids: new Array(200).fill(1) }), 'bad_argument', 'more than 128 tokens');
  });
});
