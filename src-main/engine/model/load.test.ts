import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectEngineError } from '../../test/expect-engine-error';
import { sharedPath } from '../../test/shared-paths';
import { openModel } from './load';
import { paramName } from './spec';

const STORIES_BIN = sharedPath('models', 'stories260K', 'stories260K.bin');
const TOK512 = sharedPath('models', 'stories260K', 'tok512.bin');

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tiller-load-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A temp folder holding symlinks to shared files (the shared files are never copied). */
function folderWith(links: Record<string, string>): string {
  const folder = mkdtempSync(join(dir, 'model-'));
  for (const [name, target] of Object.entries(links)) symlinkSync(target, join(folder, name));
  return folder;
}

describe('openModel', () => {
  it('opens the llama2.c checkpoint with the tok*.bin beside it', async () => {
    const model = await openModel(STORIES_BIN);
    expect(model.format).toBe('llama2c');
    expect(model.path).toBe(STORIES_BIN);
    expect(model.spec.architecture).toBe('llama2.c');
    expect(model.tokenizer.vocabSize).toBe(512);
    expect(model.weights.read(paramName.embed())).toHaveLength(512 * 64);
    model.weights.close();
  });

  it('opens the Hugging Face folder', async () => {
    const folder = sharedPath('models', 'stories260K-hf');
    const model = await openModel(folder);
    expect(model.format).toBe('huggingface');
    expect(model.path).toBe(folder);
    expect(model.spec.architecture).toBe('LlamaForCausalLM');
    expect(model.tokenizer.vocabSize).toBe(512);
    expect(model.weights.files).toEqual([join(folder, 'model.safetensors')]);
    model.weights.close();
  });

  it('a nonexistent path is not_found', async () => {
    await expectEngineError(() => openModel(join(dir, 'nope')), 'not_found', 'nope');
  });

  it('a file that is neither a folder nor a .bin checkpoint', async () => {
    const file = join(dir, 'model.gguf');
    writeFileSync(file, 'GGUF');
    await expectEngineError(() => openModel(file), 'bad_model_file', 'model.gguf', 'llama2.c');
  });

  it('llama2.c tokenizer discovery: tokenizer.bin, the only tok*.bin, or --tokenizer', async () => {
    const alone = folderWith({ 'model.bin': STORIES_BIN });
    await expectEngineError(() => openModel(join(alone, 'model.bin')), 'bad_tokenizer', 'model.bin', '--tokenizer');

    const explicit = await openModel(join(alone, 'model.bin'), { tokenizerPath: TOK512 });
    expect(explicit.tokenizer.vocabSize).toBe(512);
    explicit.weights.close();
    await expectEngineError(() => openModel(join(alone, 'model.bin'), { tokenizerPath: join(alone, 'missing.bin') }), 'not_found', 'missing.bin');

    const conventional = folderWith({ 'model.bin': STORIES_BIN, 'tokenizer.bin': TOK512, 'tok999.bin': TOK512 });
    const model = await openModel(join(conventional, 'model.bin'));
    expect(model.tokenizer.vocabSize).toBe(512);
    model.weights.close();

    const ambiguous = folderWith({ 'model.bin': STORIES_BIN, 'tok512.bin': TOK512, 'tok4096.bin': TOK512 });
    await expectEngineError(() => openModel(join(ambiguous, 'model.bin')), 'bad_tokenizer', 'tok4096.bin', 'tok512.bin', '--tokenizer');
  });
});
