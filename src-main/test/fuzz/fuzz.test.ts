/**
 * Fuzzing the untrusted inputs (issue 11): safetensors files, llama2.c checkpoints and
 * tokenizers, Hugging Face folders, experiment files, plans, variants and WebSocket
 * requests. Each target gets seeded mutations of a valid input (mutate.ts) and must
 * either accept it or throw an EngineError with a known code: never a raw TypeError or
 * RangeError, never a hang (the test timeout bounds every target), and never a heap
 * beyond MAX_HEAP_BYTES.
 *
 * Defaults take a few seconds per target (hundreds to a few thousand inputs, by cost);
 * TILLER_FUZZ_RUNS=20000 (and TILLER_FUZZ_SEED to replay) run longer. A failure names the target, the seed and the input's index.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EngineError, requestSchemas, type WireResponse, type WorkbenchApi, type WorkbenchMethod } from '../../engine/api';
import { openExperiment, saveExperiment } from '../../engine/experiment/file';
import { sampleExperiment } from '../../engine/experiment/test/fixtures';
import { validatePlan, validateRunPositions } from '../../engine/hooks/plan';
import { specFromConfig } from '../../engine/model/config';
import { openLlama2c } from '../../engine/model/llama2c';
import { openModel } from '../../engine/model/load';
import { openSafetensors } from '../../engine/model/safetensors';
import { encodedSafetensors } from '../../engine/model/safetensors-write';
import { expectedParams, type WeightSource } from '../../engine/model/spec';
import { loadHfTokenizer } from '../../engine/model/tokenizer/hf';
import { loadLlama2cTokenizer } from '../../engine/model/tokenizer/llama2c';
import { variantIssues } from '../../engine/workbench/variant-issues';
import { dispatch } from '../../transport/dispatch';
import { sharedPath } from '../shared-paths';
import { fuzzRuns, fuzzSeed, mutateBytes, mutateJson, Random } from './mutate';

const STORIES_HF = sharedPath('models', 'stories260K-hf');
const TOK512 = sharedPath('models', 'stories260K', 'tok512.bin');
const MAX_HEAP_BYTES = 2 * 1024 ** 3;
const ENGINE_CODES = new Set(['bad_model_file', 'bad_config', 'unsupported_architecture', 'bad_tokenizer', 'bad_argument', 'bad_plan', 'bad_experiment', 'not_found']);
const TIMEOUT_MS = 120_000;

const dir = mkdtempSync(join(tmpdir(), 'tiller-fuzz-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Run `check` on `runs` mutated inputs. Each must return, or throw an EngineError with a
 * known code; anything else fails the test with the input's seed and index.
 */
async function fuzz(target: string, defaultRuns: number, defaultSeed: number, check: (random: Random, index: number) => unknown): Promise<{ accepted: number; refused: number }> {
  const runs = fuzzRuns(defaultRuns);
  const seed = fuzzSeed(defaultSeed);
  const random = new Random(seed);
  let accepted = 0;
  let refused = 0;
  for (let index = 0; index < runs; index++) {
    try {
      await check(random, index);
      accepted++;
    } catch (error) {
      if (!(error instanceof EngineError) || !ENGINE_CODES.has(error.code)) {
        const what = error instanceof Error ? `${error.name}: ${error.message.slice(0, 300)}\n${error.stack}` : String(error);
        throw new Error(`${target}: input ${index} of seed ${seed} threw a raw error: ${what}`);
      }
      refused++;
    }
    if (index % 64 === 0) expect(process.memoryUsage().heapUsed, `${target}: heap after input ${index} of seed ${seed}`).toBeLessThan(MAX_HEAP_BYTES);
  }
  // A fuzzer that only ever hits the first check explores nothing.
  expect(refused, `${target}: every input was accepted`).toBeGreaterThan(0);
  return { accepted, refused };
}

function readAll(weights: WeightSource, names: Iterable<string>): void {
  try {
    for (const name of names) if (weights.has(name)) weights.read(name);
  } finally {
    weights.close();
  }
}

describe('fuzz: model files', () => {
  it('safetensors', { timeout: TIMEOUT_MS }, async () => {
    const small = encodedSafetensors(
      [
        ['a', { dtype: 'F32', shape: [2, 3], bytes: new Uint8Array(24).fill(1) }],
        ['b', { dtype: 'F16', shape: [4], bytes: new Uint8Array(8).fill(2) }],
        ['c', { dtype: 'BF16', shape: [], bytes: new Uint8Array(2).fill(3) }],
      ],
      { format: 'pt' },
    );
    const file = join(dir, 'fuzz.safetensors');
    const { accepted } = await fuzz('safetensors', 1500, 1, (random) => {
      writeFileSync(file, mutateBytes(small, random, 8 + small.readUInt32LE(0)));
      const reader = openSafetensors(file);
      readAll(reader, reader.names());
    });
    expect(accepted).toBeGreaterThan(0);
  });

  it('llama2.c checkpoints', { timeout: TIMEOUT_MS }, async () => {
    // dim 8, hidden_dim 16, 1 layer, 2 heads, 2 KV heads, vocab 16 (shared classifier), max_seq_len 4.
    const header = Int32Array.of(8, 16, 1, 2, 2, 16, 4);
    const floats = 16 * 8 + 8 + 64 + 2 * 64 + 64 + 8 + 3 * 128 + 8 + 4 * 4;
    const valid = new Uint8Array(header.byteLength + floats * 4);
    valid.set(new Uint8Array(header.buffer));
    const file = join(dir, 'fuzz.bin');
    await fuzz('llama2.c checkpoint', 1500, 2, (random) => {
      writeFileSync(file, mutateBytes(valid, random, header.byteLength));
      const { spec, weights } = openLlama2c(file);
      readAll(weights, expectedParams(spec).keys());
    });
  });

  it('llama2.c tokenizers', { timeout: TIMEOUT_MS }, async () => {
    const valid = readFileSync(TOK512);
    const file = join(dir, 'fuzz-tok.bin');
    await fuzz('llama2.c tokenizer', 1000, 3, (random) => {
      writeFileSync(file, mutateBytes(valid, random, 64));
      const tokenizer = loadLlama2cTokenizer(file, { bosTokenId: 1, eosTokenIds: [2], ...(random.next() < 0.5 ? { vocabSize: 512 } : {}) });
      tokenizer.decode(tokenizer.encode('Once upon a time, 🙂 there was'));
    });
  });

  it('Hugging Face config.json', { timeout: TIMEOUT_MS }, async () => {
    const config = JSON.parse(readFileSync(join(STORIES_HF, 'config.json'), 'utf8')) as unknown;
    const folder = join(dir, 'hf-config');
    mkdirSync(folder);
    await fuzz('config.json', 1500, 4, (random) => {
      writeFileSync(join(folder, 'config.json'), random.next() < 0.9 ? JSON.stringify(mutateJson(config, random)) : mutateBytes(Buffer.from(JSON.stringify(config)), random));
      specFromConfig(folder);
    });
  });

  it('Hugging Face folders, weights and tokenizer loaded', { timeout: TIMEOUT_MS }, async () => {
    const folder = join(dir, 'hf-folder');
    mkdirSync(folder);
    const files = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json'];
    const originals = new Map(files.map((name) => [name, JSON.parse(readFileSync(join(STORIES_HF, name), 'utf8')) as unknown]));
    const weights = readFileSync(join(STORIES_HF, 'model.safetensors'));
    await fuzz('HF folder', 150, 5, async (random) => {
      const mutated = random.pick(files);
      for (const [name, json] of originals) writeFileSync(join(folder, name), JSON.stringify(name === mutated ? mutateJson(json, random) : json));
      writeFileSync(join(folder, 'model.safetensors'), random.next() < 0.2 ? mutateBytes(weights, random, 4096) : weights);
      const model = await openModel(folder);
      try {
        model.tokenizer.decode(model.tokenizer.encode('Once upon a time'));
      } finally {
        model.weights.close();
      }
    });
  });
});

describe('fuzz: experiments, plans and requests', () => {
  it('experiment files and their sidecars', { timeout: TIMEOUT_MS }, async () => {
    const path = join(dir, 'fuzz.tiller.json');
    const { sidecar } = saveExperiment(path, sampleExperiment(7));
    const document = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    const sidecarBytes = readFileSync(sidecar as string);
    await fuzz('experiment file', 600, 6, (random) => {
      const target = random.next();
      writeFileSync(path, target < 0.8 ? JSON.stringify(mutateJson(document, random)) : JSON.stringify(document));
      writeFileSync(sidecar as string, target >= 0.8 ? mutateBytes(sidecarBytes, random, 512) : sidecarBytes);
      openExperiment(path);
    });
  });

  const spec = specFromConfig(STORIES_HF);
  const plan = {
    captures: [{ hook: 'blocks.1.attn.hook_pattern', positions: 'last' }],
    interventions: [
      { op: 'add', hook: 'blocks.2.hook_resid_pre', vector: new Array(spec.dModel).fill(0.5), scale: 2, positions: [0, 1] },
      { op: 'set', hook: 'blocks.1.mlp.hook_post', indices: [3, 4], values: [1], positions: 'all' },
      { op: 'scale', hook: 'blocks.0.attn.hook_z', indices: [1], values: [0] },
      { op: 'patch', hook: 'blocks.3.hook_resid_post', positions: 'last', source: { values: [new Array(spec.dModel).fill(0)] } },
      { op: 'patch', hook: 'blocks.1.hook_resid_mid', positions: 'prompt', source: { prompt_ids: [1, 2, 3] } },
      { op: 'schedule', blocks: [0, 1, 1, 2, 3, 4] },
      { op: 'lens', layers: [2, 3] },
      { op: 'weight_delta', param: 'blocks.1.mlp.down_proj', u: new Array(spec.dModel).fill(0.1), v: new Array(spec.dMlp).fill(0.1) },
    ],
  };

  it('plans', { timeout: TIMEOUT_MS }, async () => {
    expect(() => validatePlan(spec, plan)).not.toThrow();
    await fuzz('plan', 2000, 8, (random) => {
      const valid = validatePlan(spec, mutateJson(plan, random));
      const count = 1 + random.int(8);
      validateRunPositions(valid, { start: 0, count, promptLength: count });
    });
  });

  it('variants (validateVariant)', { timeout: TIMEOUT_MS }, async () => {
    const variant = { id: 'v', name: 'V', interventions: plan.interventions, origins: { '0': { kind: 'contrast', hook: 'blocks.2.hook_resid_pre', positive: 'a', negative: 'b' } }, decoding: { strategy: 'dola', layers: [1, 2], alpha: 0.1 } };
    await fuzz('variant', 2000, 9, (random) => {
      const issues = variantIssues(random.next() < 0.1 ? null : spec, mutateJson(variant, random));
      expect(Array.isArray(issues)).toBe(true);
      if (issues.length > 0) throw new EngineError('bad_plan', 'refused'); // counted as refused
    });
  });

  it('WebSocket requests through the dispatcher', { timeout: TIMEOUT_MS }, async () => {
    // An API that answers every method: the dispatcher's parsing is what is fuzzed.
    const api = Object.fromEntries((Object.keys(requestSchemas) as WorkbenchMethod[]).map((method) => [method, async () => null])) as unknown as WorkbenchApi;
    const requests = [
      { kind: 'request', id: 1, method: 'generate', params: { prompt: { text: 'Once' }, settings: { maxNewTokens: 4 }, variants: [{ id: 'a', name: 'A', interventions: plan.interventions }] } },
      { kind: 'request', id: 2, method: 'validateVariant', params: { variant: { id: 'v', name: 'V', interventions: plan.interventions } } },
      { kind: 'request', id: 3, method: 'tokenize', params: { text: 'Once upon a time' } },
      { kind: 'request', id: 4, method: 'loadModel', params: { path: '/models/x' } },
      { kind: 'request', id: 5, method: 'contrastVector', params: { hook: 'blocks.1.hook_resid_post', positive: 'a', negative: 'b' } },
    ];
    await fuzz('request', 2000, 10, async (random) => {
      const request = random.pick(requests);
      const kind = random.next();
      const text =
        kind < 0.8
          ? JSON.stringify(mutateJson(request, random))
          : kind < 0.95
            ? Buffer.from(mutateBytes(Buffer.from(JSON.stringify(request)), random)).toString('utf8')
            : // Nesting deeper than JSON.stringify can write.
              `{"kind":"request","id":1,"method":"validateVariant","params":{"variant":${'['.repeat(100_000)}${']'.repeat(100_000)}}}`;
      const response: WireResponse = await dispatch(api, text);
      expect(response.kind).toBe('response');
      if (!response.ok) {
        expect(response.error.code, response.error.message).toBe('bad_request');
        throw new EngineError('bad_argument', response.error.message); // counted as refused
      }
    });
  });
});
