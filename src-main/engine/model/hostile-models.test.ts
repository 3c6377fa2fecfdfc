/**
 * Issue 11, items 3, 5 and 6: model folders treated as untrusted. Sizes in config.json
 * are bounded before anything is sized from them, tokenizer files that break the
 * tokenizer library are named as bad tokenizers, and a model folder may not reach files
 * elsewhere through a link (except a Hugging Face cache snapshot into its own blobs).
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { expectEngineError } from '../../test/expect-engine-error';
import { sharedPath } from '../../test/shared-paths';
import { specFromConfig } from './config';
import { openModel } from './load';
import { SPEC_LIMITS } from './spec-bounds';
import { loadHfTokenizer } from './tokenizer/hf';

const STORIES_HF = sharedPath('models', 'stories260K-hf');
const posix = process.platform !== 'win32';

const tempDirs: string[] = [];
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tiller-hostile-model-'));
  tempDirs.push(dir);
  return dir;
}

/** A copy of stories260K-hf's small files with `changes` applied to the parsed JSON of each named file. */
function storiesFolder(changes: Record<string, (json: Record<string, any>) => void> = {}, into = tempDir()): string {
  for (const name of ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json']) {
    const json = JSON.parse(readFileSync(join(STORIES_HF, name), 'utf8')) as Record<string, any>;
    changes[name]?.(json);
    writeFileSync(join(into, name), JSON.stringify(json));
  }
  return into;
}

describe('config sizes are bounded before use', () => {
  it.each([
    ['num_hidden_layers', 1e6, 'n_layers is 1000000'],
    ['num_hidden_layers', 1e7, 'n_layers is 10000000'],
    ['max_position_embeddings', 1e8, 'n_ctx (maximum positions) is 100000000'],
    ['max_position_embeddings', 2 ** 31, 'n_ctx (maximum positions) is 2147483648'],
    ['vocab_size', 2 ** 31, 'd_vocab (vocabulary size) is 2147483648'],
    ['intermediate_size', 2 ** 30, 'd_mlp (intermediate size) is 1073741824'],
  ])('refuses %s = %d as bad_config', async (field, value, message) => {
    const folder = storiesFolder({ 'config.json': (config) => void (config[field] = value) });
    await expectEngineError(() => specFromConfig(folder), 'bad_config', message);
  });

  it('refuses a rotary table too large even when n_ctx alone is in bounds', async () => {
    const folder = storiesFolder({
      'config.json': (config) => {
        config.max_position_embeddings = SPEC_LIMITS.nCtx;
        config.head_dim = 1024;
      },
    });
    await expectEngineError(() => specFromConfig(folder), 'bad_config', 'bytes of rotary tables');
  });

  it('refuses a special token outside the vocabulary', async () => {
    const folder = storiesFolder({ 'config.json': (config) => void (config.eos_token_id = 10_000) });
    await expectEngineError(() => specFromConfig(folder), 'bad_config', 'special token id 10000 is outside the vocabulary');
  });
});

describe('tokenizer files', () => {
  it('refuses token ids far beyond any vocabulary before the tokenizer library sizes tables by them', async () => {
    const folder = storiesFolder({ 'tokenizer.json': (tokenizer) => void (tokenizer.model.vocab['▁zzz'] = 2 ** 31) });
    await expectEngineError(() => loadHfTokenizer(folder), 'bad_tokenizer', 'token id 2147483648 is not a whole number below');
    const added = storiesFolder({ 'tokenizer.json': (tokenizer) => void (tokenizer.added_tokens[0].id = 2 ** 31) });
    await expectEngineError(() => loadHfTokenizer(added), 'bad_tokenizer', 'token id 2147483648');
  });

  // The first fails only when the BOS probe encodes (a raw TypeError before), the second on construction.
  it.each([{ type: 'TemplateProcessing' }, { type: 'Sequence', processors: 3 }])('names a malformed post-processor %j as a bad tokenizer', async (postProcessor) => {
    const folder = storiesFolder({ 'tokenizer.json': (tokenizer) => void (tokenizer.post_processor = postProcessor) });
    await expectEngineError(() => loadHfTokenizer(folder), 'bad_tokenizer', 'tokenizer.json: the tokenizer library cannot use it');
  });

  it('reports a missing tokenizer.json as a bad tokenizer, and a folder in its place as not a file', async () => {
    const folder = storiesFolder();
    rmSync(join(folder, 'tokenizer.json'));
    await expectEngineError(() => loadHfTokenizer(folder), 'bad_tokenizer', 'does not exist');
    mkdirSync(join(folder, 'tokenizer.json'));
    await expectEngineError(() => loadHfTokenizer(folder), 'bad_tokenizer', 'is a folder, not a regular file');
  });
});

describe.runIf(posix)('links out of a model folder', () => {
  it('refuses weights linked from outside the folder', async () => {
    const outside = tempDir();
    copyFileSync(join(STORIES_HF, 'model.safetensors'), join(outside, 'model.safetensors'));
    const folder = storiesFolder();
    symlinkSync(join(outside, 'model.safetensors'), join(folder, 'model.safetensors'));
    await expectEngineError(() => openModel(folder), 'bad_model_file', 'links outside');
  });

  it('refuses a config.json linked to a file elsewhere', async () => {
    const folder = storiesFolder();
    const outside = join(tempDir(), 'secret.json');
    writeFileSync(outside, readFileSync(join(folder, 'config.json')));
    rmSync(join(folder, 'config.json'));
    symlinkSync(outside, join(folder, 'config.json'));
    await expectEngineError(() => specFromConfig(folder), 'bad_config', 'links outside');
  });

  it('opens a Hugging Face cache snapshot whose files link into its blobs', async () => {
    const repo = join(tempDir(), 'models--karpathy--stories260K');
    const snapshot = join(repo, 'snapshots', 'abc123');
    mkdirSync(join(repo, 'blobs'), { recursive: true });
    mkdirSync(snapshot, { recursive: true });
    copyFileSync(join(STORIES_HF, 'model.safetensors'), join(repo, 'blobs', 'f00d'));
    symlinkSync(join('..', '..', 'blobs', 'f00d'), join(snapshot, 'model.safetensors'));
    storiesFolder({}, snapshot);
    const model = await openModel(snapshot);
    try {
      expect(model.spec.nLayers).toBe(5);
    } finally {
      model.weights.close();
    }
  });
});
