/**
 * llama.cpp control vectors: the real files of interchange/gguf (repeng, EasySteer, the
 * edge cases), files Tiller writes checked by an independent reader written from the spec,
 * and every malformed file refused with a reason.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { expectEngineError } from '../../test/expect-engine-error';
import { referenceReadGguf } from '../../test/reference/gguf-reader';
import { sharedPath } from '../../test/shared-paths';
import { writeControlVector } from './control-vector';
import { encodeGguf } from './gguf';
import { readControlVectorFile, readVectorSet } from './read';
import { combineSets, l2Norm, outputOfBlock } from './vector-set';

const dir = mkdtempSync(join(tmpdir(), 'tiller-gguf-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const ggufDir = (...parts: string[]) => sharedPath('interchange', 'gguf', ...parts);

interface Inspected {
  file: string;
  version: number;
  kv: { key: string; type: string; value: unknown }[];
  alignment: number;
  header_end: number;
  data_start: number;
  tensors: { name: string; dims: number[]; offset: number; l2_norm: number; first4: number[] }[];
}
const inspection = JSON.parse(readFileSync(ggufDir('INSPECTION.json'), 'utf8')) as Inspected[];
const realFiles = inspection.filter((entry) => entry.file.endsWith('.gguf'));

describe('real control-vector files', () => {
  it('covers every writer in interchange/gguf', () => {
    expect(realFiles.map((entry) => entry.file.split('/')[0]).sort()).toEqual([...Array(10).fill('easysteer'), ...Array(3).fill('repeng_kydux')]);
  });

  it.each(realFiles.map((entry) => [entry.file, entry] as const))('%s: every direction at the block it names, as INSPECTION.json lists it', (file, expected) => {
    const set = readControlVectorFile(ggufDir(file));
    expect(set.model).toBe(expected.kv.find((kv) => kv.key === 'controlvector.model_hint')?.value);
    // Keyed on the number in the name, never the order (repeng stores 31 down to 1).
    const byName = new Map(expected.tensors.map((tensor) => [tensor.name, tensor]));
    expect(set.vectors.map((entry) => entry.key).sort()).toEqual([...byName.keys()].sort());
    for (const { key, hook, vector } of set.vectors) {
      const tensor = byName.get(key as string) as Inspected['tensors'][number];
      const block = Number((key as string).split('.')[1]);
      expect(hook).toBe(`blocks.${block}.hook_resid_post`);
      expect(vector).toHaveLength(tensor.dims[0]);
      expect(l2Norm(vector)).toBeCloseTo(tensor.l2_norm, 3);
      Array.from(vector.subarray(0, 4)).forEach((value, i) => expect(value).toBeCloseTo(tensor.first4[i], 5));
    }
    for (const { key, type, value } of expected.kv) if (type === 'STRING' || type === 'UINT32') expect(set.metadata[key]).toBe(String(value));
    const zeroBased = byName.has('direction.0');
    expect(set.warnings.some((warning) => warning.includes('direction.0'))).toBe(zeroBased);
    expect(zeroBased).toBe(file.startsWith('easysteer'));
  });

  it('the reference reader agrees with INSPECTION.json on the real files (so it can judge ours)', () => {
    for (const expected of realFiles) {
      const parsed = referenceReadGguf(readFileSync(ggufDir(expected.file)));
      expect({ version: parsed.version, alignment: parsed.alignment, header_end: parsed.header_end, data_start: parsed.data_start }).toEqual({
        version: expected.version,
        alignment: expected.alignment,
        header_end: expected.header_end,
        data_start: expected.data_start,
      });
      expect(parsed.kv.map(({ key, type }) => [key, type])).toEqual(expected.kv.map(({ key, type }) => [key, type]));
      expect(parsed.tensors.map(({ name, dims, offset }) => ({ name, dims, offset }))).toEqual(expected.tensors.map(({ name, dims, offset }) => ({ name, dims, offset })));
    }
  });

  it('says what each edge-case file really is', async () => {
    const edge = (name: string) => ggufDir('edge_cases', name);
    await expectEngineError(() => readControlVectorFile(edge('easysteer__frontend__personality_diffmean_control_vector.gguf.is-safetensors')), 'bad_argument', 'is a safetensors file', 'not a GGUF');
    await expectEngineError(() => readControlVectorFile(edge('easysteer__hf-space__vectors__diffmean-1.gguf.lfs-pointer')), 'bad_argument', 'Git LFS pointer to a 173632-byte file', 'git lfs pull');
    await expectEngineError(() => readControlVectorFile(edge('easysteer__replications__sharp__task_vector_layer-10.npy')), 'bad_argument', 'NumPy .npy array (dtype <f2, shape (4096,))');
    // Read by content, the safetensors one is what it is: EasySteer's layer_N tensors.
    const set = readVectorSet(edge('easysteer__frontend__personality_diffmean_control_vector.gguf.is-safetensors'));
    expect(set.format).toBe('safetensors');
    expect(set.vectors).toHaveLength(28);
  });

  it('sums several files and repeated layers with scales, within an inclusive block range (llama.cpp --control-vector-scaled, --control-vector-layer-range)', () => {
    const a = readControlVectorFile(ggufDir('repeng_kydux', 'stylish.gguf'));
    const b = readControlVectorFile(ggufDir('repeng_kydux', 'kpunk_binglish.gguf'));
    const sums = combineSets([{ set: a, scale: 0.5 }, { set: b, scale: -2 }], { from: 10, to: 12 });
    expect([...sums.keys()]).toEqual(['blocks.10.hook_resid_post', 'blocks.11.hook_resid_post', 'blocks.12.hook_resid_post']);
    const at = (set: typeof a, hook: string) => set.vectors.find((entry) => entry.hook === hook)?.vector as Float32Array;
    const hook = 'blocks.11.hook_resid_post';
    expect(sums.get(hook)?.[7]).toBeCloseTo(0.5 * at(a, hook)[7] - 2 * at(b, hook)[7], 6);
  });
});

describe('writing control vectors', () => {
  const d = 6;
  const vector = (seed: number) => Float32Array.from({ length: d }, (_, i) => Math.sin(seed * 7 + i) * (seed + 1));
  // resid_pre of block 3 is block 2's output: it is written as direction.2.
  const vectors = new Map([
    ['blocks.5.hook_resid_post', vector(5)],
    ['blocks.1.hook_resid_post', vector(1)],
    ['blocks.3.hook_resid_pre', vector(2)],
  ]);
  const bytes = writeControlVector(vectors, 'llama', { method: 'mean' });

  it('parses with the independent reader: the keys, types and tensors llama.cpp expects', () => {
    const parsed = referenceReadGguf(bytes);
    expect(parsed.version).toBe(3);
    expect(parsed.kv).toEqual([
      { key: 'general.architecture', type: 'STRING', value: 'controlvector' },
      { key: 'controlvector.model_hint', type: 'STRING', value: 'llama' },
      { key: 'controlvector.layer_count', type: 'UINT32', value: 5 },
      { key: 'tiller.method', type: 'STRING', value: 'mean' },
    ]);
    expect(parsed.tensors.map(({ name, dims, type_id }) => [name, dims, type_id])).toEqual([
      ['direction.1', [d], 0],
      ['direction.2', [d], 0],
      ['direction.5', [d], 0],
    ]);
    for (const tensor of parsed.tensors) expect(tensor.offset % 32).toBe(0);
    expect(parsed.data_start % 32).toBe(0);
    expect(parsed.tensors[1].values).toEqual(Array.from(vector(2)));
    expect(bytes.length).toBe(parsed.data_start + parsed.tensors[2].offset + 32); // 24 bytes padded to 32
  });

  it('round-trips through Tiller\'s reader', () => {
    const path = join(dir, 'written.gguf');
    writeFileSync(path, bytes);
    const set = readControlVectorFile(path);
    expect(set.vectors.map((entry) => [entry.hook, Array.from(entry.vector)])).toEqual([
      ['blocks.1.hook_resid_post', Array.from(vector(1))],
      ['blocks.2.hook_resid_post', Array.from(vector(2))],
      ['blocks.5.hook_resid_post', Array.from(vector(5))],
    ]);
    expect(set.warnings).toEqual([]);
  });

  it('refuses what llama.cpp cannot load', async () => {
    await expectEngineError(() => writeControlVector(new Map([['blocks.0.hook_resid_post', vector(0)]]), 'm'), 'bad_argument', "block 0's output", 'direction.1');
    await expectEngineError(() => writeControlVector(new Map([['blocks.0.hook_resid_pre', vector(0)]]), 'm'), 'bad_argument', 'not the output of a block');
    await expectEngineError(() => writeControlVector(new Map([['blocks.2.hook_mlp_out', vector(0)]]), 'm'), 'bad_argument', 'blocks.2.hook_mlp_out');
    const twice = new Map([['blocks.2.hook_resid_post', vector(0)], ['blocks.3.hook_resid_pre', vector(1)]]);
    await expectEngineError(() => writeControlVector(twice, 'm'), 'bad_argument', "block 2's output");
  });

  it('maps residual hooks to the block whose output they are', () => {
    expect([outputOfBlock('blocks.4.hook_resid_post'), outputOfBlock('blocks.4.hook_resid_pre'), outputOfBlock('blocks.0.hook_resid_pre'), outputOfBlock('blocks.4.hook_mlp_out')]).toEqual([4, 3, -1, null]);
  });
});

describe('malformed GGUF files', () => {
  const write = (name: string, bytes: Uint8Array) => {
    const path = join(dir, name);
    writeFileSync(path, bytes);
    return path;
  };
  const controlVector = (tensors: { name: string; data: Float32Array }[], architecture = 'controlvector') =>
    encodeGguf([['general.architecture', { type: 'STRING', value: architecture }]], tensors);
  const good = controlVector([{ name: 'direction.1', data: Float32Array.from([1, 2]) }]);

  it('refuses each with what is wrong', async () => {
    await expectEngineError(() => readControlVectorFile(write('short.gguf', good.subarray(0, 40))), 'bad_argument', 'short.gguf', 'truncated GGUF');
    await expectEngineError(() => readControlVectorFile(write('model.gguf', controlVector([{ name: 'token_embd.weight', data: new Float32Array(2) }], 'llama'))), 'bad_argument', 'architecture "llama"', 'a model, not a control vector');
    await expectEngineError(() => readControlVectorFile(write('names.gguf', controlVector([{ name: 'direction.x', data: new Float32Array(2) }]))), 'bad_argument', '"direction.x" is not named direction.N');
    await expectEngineError(() => readControlVectorFile(write('empty.gguf', controlVector([]))), 'bad_argument', 'no direction tensors');
    const widths = controlVector([{ name: 'direction.1', data: new Float32Array(2) }, { name: 'direction.2', data: new Float32Array(3) }]);
    await expectEngineError(() => readControlVectorFile(write('widths.gguf', widths)), 'bad_argument', 'different widths (2, 3)');
    const v1 = Buffer.from(good);
    v1.writeUInt32LE(1, 4);
    await expectEngineError(() => readControlVectorFile(write('v1.gguf', v1)), 'bad_argument', 'GGUF version 1');
    const bigEndian = Buffer.from(good);
    bigEndian.writeUInt32BE(3, 4);
    await expectEngineError(() => readControlVectorFile(write('be.gguf', bigEndian)), 'bad_argument', 'big-endian');
    const quantized = Buffer.from(good);
    // The tensor's ggml type sits just before its u64 offset, at the end of the header.
    const typeAt = referenceReadGguf(good).header_end - 12;
    quantized.writeUInt32LE(8, typeAt);
    await expectEngineError(() => readControlVectorFile(write('q8.gguf', quantized)), 'bad_argument', 'ggml type 8');
    const huge = Buffer.from(good);
    huge.writeBigUInt64LE(1n << 40n, 8);
    await expectEngineError(() => readControlVectorFile(write('huge.gguf', huge)), 'bad_argument', 'more than its');
  });

  it('sums a direction named twice in one file, and says so', () => {
    const twice = controlVector([{ name: 'direction.3', data: Float32Array.from([1, 2]) }, { name: 'direction.3', data: Float32Array.from([10, 20]) }]);
    const set = readControlVectorFile(write('twice.gguf', twice));
    expect(set.vectors.map((entry) => Array.from(entry.vector))).toEqual([[11, 22]]);
    expect(set.warnings[0]).toContain('summed');
  });
});
