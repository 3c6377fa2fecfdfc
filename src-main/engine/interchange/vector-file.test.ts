/** Vector files: safetensors keyed by hook name, JSON lists, and Neuronpedia's real files. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { expectEngineError } from '../../test/expect-engine-error';
import { writeSafetensors } from '../../test/fixtures/safetensors-writer';
import { sharedPath } from '../../test/shared-paths';
import { MAX_VECTOR_FILE_BYTES } from './read';
import { readVectorFile } from './vector-file';

const dir = mkdtempSync(join(tmpdir(), 'tiller-vectors-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const file = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

describe('readVectorFile', () => {
  const residPost = Float32Array.from([0.5, -1, 2, 0.25]);
  const embed = Float32Array.from([1, 2, 3, 4]);
  const several = join(dir, 'several.safetensors');
  writeSafetensors(several, {
    'blocks.2.hook_resid_post': { dtype: 'F32', shape: [4], data: residPost },
    hook_embed: { dtype: 'F32', shape: [1, 4], data: embed },
    matrix: { dtype: 'F32', shape: [2, 2], data: Float32Array.from([1, 2, 3, 4]) },
  });

  it('reads the tensor named by key from safetensors and lists every key', () => {
    const result = readVectorFile(several, 'blocks.2.hook_resid_post');
    expect(result).toEqual({ vector: [0.5, -1, 2, 0.25], key: 'blocks.2.hook_resid_post', keys: ['blocks.2.hook_resid_post', 'hook_embed'] });
    expect(readVectorFile(several, 'hook_embed').vector).toEqual([1, 2, 3, 4]); // [1, n] is a vector too
  });

  it('needs a key when a file holds several vectors, and names them (details.keys for the UI)', async () => {
    const keys = ['blocks.2.hook_resid_post', 'hook_embed'];
    const unkeyed = await expectEngineError(() => readVectorFile(several), 'bad_argument', 'holds 2 vectors', 'blocks.2.hook_resid_post', 'choose one by key');
    expect(unkeyed.details).toEqual({ keys });
    const missing = await expectEngineError(() => readVectorFile(several, 'blocks.9.hook_resid_post'), 'bad_argument', 'no entry "blocks.9.hook_resid_post"');
    expect(missing.details).toEqual({ keys });
    await expectEngineError(() => readVectorFile(several, 'matrix'), 'bad_argument', 'shape [2, 2]', '1-D');
  });

  it('takes the only tensor of a single-vector file without a key', () => {
    const single = join(dir, 'single.safetensors');
    writeSafetensors(single, { 'blocks.0.hook_resid_pre': { dtype: 'F16', shape: [3], data: Float32Array.from([1, -2, 0.5]) } });
    expect(readVectorFile(single)).toEqual({ vector: [1, -2, 0.5], key: 'blocks.0.hook_resid_pre', keys: ['blocks.0.hook_resid_pre'] });
  });

  it('reads a JSON list of numbers', () => {
    expect(readVectorFile(file('list.json', '[1, 2.5, -3]'))).toEqual({ vector: [1, 2.5, -3], key: null, keys: [] });
  });

  it("reads Neuronpedia's vector JSON, keyed by the hook it names", () => {
    const result = readVectorFile(sharedPath('interchange', 'neuronpedia', 'example_api_vector_new_request.gpt2-small.jedi.json'));
    expect(result.key).toBe('blocks.0.hook_resid_pre');
    expect(result.vector).toHaveLength(768);
    expect(result.vector[0]).toBe(Math.fround(-0.012915895320475101)); // vectors are float32, as the graph adds them
  });

  it('reads an object of named vectors by key', async () => {
    const path = sharedPath('interchange', 'neuronpedia', 'sample_vectors_from_webapp-python-client.json');
    const error = await expectEngineError(() => readVectorFile(path), 'bad_argument', 'holds 2 vectors', 'GPT2_SMALL_RES_JB_JEDI_VECTOR');
    expect(error.details).toEqual({ keys: ['GPT2_SMALL_RES_JB_JEDI_VECTOR', 'GEMMA2_2B_IT_DINOSAURS_VECTOR'] });
    const result = readVectorFile(path, 'GEMMA2_2B_IT_DINOSAURS_VECTOR');
    expect(result.vector).toHaveLength(2304);
    expect(result.keys).toEqual(['GPT2_SMALL_RES_JB_JEDI_VECTOR', 'GEMMA2_2B_IT_DINOSAURS_VECTOR']);
  });

  it('recognises the format by content when the extension says nothing', () => {
    const disguised = join(dir, 'vector.bin');
    writeSafetensors(disguised, { v: { dtype: 'F32', shape: [2], data: Float32Array.from([3, 4]) } });
    expect(readVectorFile(disguised).vector).toEqual([3, 4]);
    expect(readVectorFile(file('vector.txt', '  [5, 6]')).vector).toEqual([5, 6]);
    // A real EasySteer export: safetensors saved under a .gguf name (interchange/gguf/edge_cases).
    const easysteer = sharedPath('interchange', 'gguf', 'edge_cases', 'easysteer__frontend__personality_diffmean_control_vector.gguf.is-safetensors');
    const layer = readVectorFile(easysteer, 'layer_12');
    expect(layer.keys).toHaveLength(28);
    expect(layer.vector.length).toBeGreaterThan(0);
  });

  it('refuses what is not a vector file, with the reason', async () => {
    await expectEngineError(() => readVectorFile(join(dir, 'absent.json')), 'not_found', 'absent.json');
    await expectEngineError(() => readVectorFile(file('broken.json', '[1, 2')), 'bad_argument', 'broken.json', 'not valid JSON');
    await expectEngineError(() => readVectorFile(file('strings.json', '[1, "2"]')), 'bad_argument', 'the list[1] is "2"');
    await expectEngineError(() => readVectorFile(file('empty.json', '[]')), 'bad_argument', 'empty');
    await expectEngineError(() => readVectorFile(file('number.json', '42')), 'bad_argument', 'expected a list of numbers');
    await expectEngineError(() => readVectorFile(file('notes.gguf', 'GGUF....')), 'bad_argument', 'notes.gguf', 'GGUF version 774778414');
    await expectEngineError(() => readVectorFile(file('notes.txt', 'hello there')), 'bad_argument', 'not a GGUF, safetensors or JSON vector file');
    await expectEngineError(() => readVectorFile(dir), 'bad_argument', 'is not a file');
    // A real file under another format's name (interchange/gguf/edge_cases) is read as what it is.
    await expectEngineError(() => readVectorFile(sharedPath('interchange', 'gguf', 'edge_cases', 'easysteer__hf-space__vectors__diffmean-1.gguf.lfs-pointer')), 'bad_argument', 'Git LFS pointer');
  });

  it('refuses JSON files over the size limit before reading them', async () => {
    const big = join(dir, 'big.json');
    writeFileSync(big, Buffer.concat([Buffer.from('['), Buffer.alloc(MAX_VECTOR_FILE_BYTES, 0x20)]));
    await expectEngineError(() => readVectorFile(big), 'bad_argument', 'limited to');
  });
});
