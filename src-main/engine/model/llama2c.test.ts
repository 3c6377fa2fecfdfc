import { closeSync, mkdtempSync, openSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectEngineError } from '../../test/expect-engine-error';
import { sharedPath } from '../../test/shared-paths';
import { specFromConfig } from './config';
import { openHfWeights } from './hf-weights';
import { openLlama2c } from './llama2c';
import { expectedParams, paramName } from './spec';

const STORIES_BIN = sharedPath('models', 'stories260K', 'stories260K.bin');
const STORIES_HF = sharedPath('models', 'stories260K-hf');

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tiller-llama2c-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A llama2.c file: the header ints, then the float32 `values`. */
function writeCheckpoint(name: string, header: number[], values: Float32Array): string {
  const file = join(dir, name);
  writeFileSync(file, Buffer.concat([Buffer.from(Int32Array.from(header).buffer), Buffer.from(values.buffer)]));
  return file;
}

describe('stories260K: llama2.c checkpoint vs the Hugging Face conversion', () => {
  it('describes the same model', () => {
    const { spec, weights } = openLlama2c(STORIES_BIN);
    weights.close();
    const hfSpec = specFromConfig(STORIES_HF);
    expect(spec).toEqual({ ...hfSpec, architecture: 'llama2.c' });
    expect(spec).toMatchObject({ dModel: 64, dMlp: 172, nLayers: 5, nHeads: 8, nKvHeads: 4, dHead: 8, dVocab: 512, nCtx: 512, tiedEmbeddings: true });
  });

  it('every parameter equals the safetensors tensor exactly, q/k after the rotate-half permutation', () => {
    const llama2c = openLlama2c(STORIES_BIN);
    const hf = openHfWeights(STORIES_HF, specFromConfig(STORIES_HF));
    const names = [...expectedParams(llama2c.spec).keys()];
    expect(names).toHaveLength(2 + 5 * 9);
    for (const name of names) {
      expect(llama2c.weights.info(name), name).toEqual(hf.info(name));
      expect(llama2c.weights.read(name), name).toEqual(hf.read(name));
    }
    expect(llama2c.weights.has(paramName.unembed())).toBe(false);
    llama2c.weights.close();
    hf.close();
  });

  it('the permutation matters: raw llama2.c wq rows differ from HF q_proj', () => {
    // wq of layer 0 starts after the header, the embedding (512 x 64) and the 5 attention norms.
    const offset = 28 + (512 * 64 + 5 * 64) * 4;
    const raw = new Float32Array(64 * 64);
    const fd = openSync(STORIES_BIN, 'r');
    readSync(fd, new Uint8Array(raw.buffer), 0, raw.byteLength, offset);
    closeSync(fd);
    const { weights } = openLlama2c(STORIES_BIN);
    const permuted = weights.read(paramName.q(0));
    weights.close();
    expect(permuted).not.toEqual(raw);
    expect([...permuted].sort()).toEqual([...raw].sort());
  });

  it('rows read a few at a time equal the same rows of the whole tensor, permuted q included', () => {
    const { weights } = openLlama2c(STORIES_BIN);
    for (const name of [paramName.q(1), paramName.k(0), paramName.down(2), paramName.embed()]) {
      const whole = weights.read(name);
      const cols = whole.length / weights.info(name).shape[0];
      expect(weights.readRows(name, 5, 27), name).toEqual(whole.subarray(5 * cols, 32 * cols));
    }
    weights.close();
  });

  it('also opens llama2xs-312K (different hidden size and context)', () => {
    const { spec, weights } = openLlama2c(sharedPath('models', 'llama2xs-312K', 'llama2xs.bin'));
    expect(spec).toMatchObject({ dModel: 64, dMlp: 192, nLayers: 5, nCtx: 256, tiedEmbeddings: true });
    expect(weights.read(paramName.down(4))).toHaveLength(64 * 192);
    weights.close();
  });
});

describe('synthetic llama2.c files', () => {
  // dim 4, hidden 2, 1 layer, 1 head (head size 4), 1 kv head, vocab 3, max_seq_len 2.
  const dim = 4;
  const sizes = { embed: 3 * dim, norm: dim, q: dim * dim, k: dim * dim, v: dim * dim, o: dim * dim, ffnNorm: dim, w1: 2 * dim, w2: 2 * dim, w3: 2 * dim, final: dim, freqCis: 2 * 2 * 2 }; // freq_cis: real + imaginary, (max_seq_len 2, head_size / 2)

  it('reads a separate classifier and permutes q rows (0, 2, 1, 3) within each head', () => {
    const total = Object.values(sizes).reduce((a, b) => a + b, 0) + 3 * dim;
    // Each float holds its own index so every region and row is recognisable.
    const values = Float32Array.from({ length: total }, (_, i) => i);
    const { spec, weights } = openLlama2c(writeCheckpoint('separate.bin', [dim, 2, 1, 1, 1, -3, 2], values));
    expect(spec.tiedEmbeddings).toBe(false);
    expect(spec.dVocab).toBe(3);
    const qStart = sizes.embed + sizes.norm;
    const row = (start: number, r: number) => Array.from({ length: dim }, (_, c) => start + r * dim + c);
    expect(Array.from(weights.read(paramName.q(0)))).toEqual([0, 2, 1, 3].flatMap((r) => row(qStart, r)));
    expect(Array.from(weights.read(paramName.v(0)))).toEqual([0, 1, 2, 3].flatMap((r) => row(qStart + 2 * dim * dim, r)));
    expect(Array.from(weights.read(paramName.unembed()))).toEqual(row(total - 3 * dim, 0).concat(row(total - 3 * dim, 1), row(total - 3 * dim, 2)));
    weights.close();
  });

  it('a file whose size does not match its header names expected and actual bytes', async () => {
    const size = statSync(STORIES_BIN).size;
    const truncated = join(dir, 'truncated.bin');
    const fd = openSync(STORIES_BIN, 'r');
    const bytes = Buffer.alloc(size - 4);
    readSync(fd, bytes, 0, bytes.byteLength, 0);
    closeSync(fd);
    writeFileSync(truncated, bytes);
    await expectEngineError(() => openLlama2c(truncated), 'bad_model_file', 'truncated.bin', `expected ${size} bytes`, `${size - 4} bytes`);
    // The same bytes flagged as "separate classifier" (negative vocab) need 512 x 64 more floats.
    bytes.writeInt32LE(-512, 20);
    writeFileSync(truncated, Buffer.concat([bytes, Buffer.alloc(4)]));
    await expectEngineError(() => openLlama2c(truncated), 'bad_model_file', 'truncated.bin', `expected ${size + 512 * 64 * 4} bytes`, 'separate classifier');
  });

  it('absurd or inconsistent headers are rejected before any allocation', async () => {
    const cases: Array<[string, number[], string]> = [
      ['huge-dim', [1 << 30, 172, 5, 8, 4, 512, 512], 'dim'],
      ['zero-layers', [64, 172, 0, 8, 4, 512, 512], 'n_layers'],
      ['negative-hidden', [64, -172, 5, 8, 4, 512, 512], 'hidden_dim'],
      ['too-many-kv', [64, 172, 5, 8, 16, 512, 512], 'n_kv_heads'],
      ['uneven-heads', [64, 172, 5, 6, 3, 512, 512], 'divisible'],
      ['gqa-mismatch', [64, 172, 5, 8, 3, 512, 512], 'multiple'],
      ['zero-vocab', [64, 172, 5, 8, 4, 0, 512], 'vocab_size'],
    ];
    for (const [name, header, problem] of cases) {
      const file = writeCheckpoint(`${name}.bin`, header, new Float32Array(16));
      await expectEngineError(() => openLlama2c(file), 'bad_model_file', `${name}.bin`, 'implausible', problem);
    }
  });

  it('short files and versioned exports', async () => {
    const short = join(dir, 'short.bin');
    writeFileSync(short, Buffer.alloc(12));
    await expectEngineError(() => openLlama2c(short), 'bad_model_file', 'short.bin', 'shorter than the 28-byte');
    const versioned = writeCheckpoint('v1.bin', [0x616b3432, 1, 64, 172, 5, 8, 4], new Float32Array(4));
    await expectEngineError(() => openLlama2c(versioned), 'bad_model_file', 'v1.bin', 'legacy');
  });
});
