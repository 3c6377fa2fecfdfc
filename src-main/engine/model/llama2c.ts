/**
 * llama2.c checkpoint reader (legacy "v0" format written by llama2.c's export.py
 * `legacy_export`, read by `read_checkpoint` in run.c).
 *
 * Layout: 7 little-endian int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads,
 * vocab_size, max_seq_len), then float32 arrays in this order, each stacked over layers:
 *   token_embedding  (vocab, dim)
 *   rms_att          (layer, dim)
 *   wq               (layer, n_heads * head_size, dim)
 *   wk, wv           (layer, n_kv_heads * head_size, dim)
 *   wo               (layer, dim, n_heads * head_size)
 *   rms_ffn          (layer, dim)
 *   w1 (gate), w3 (up) (layer, hidden_dim, dim); w2 (down) (layer, dim, hidden_dim),
 *     stored in the order w1, w2, w3
 *   rms_final        (dim)
 *   freq_cis real, imag (max_seq_len, head_size / 2) each: unused, rotary is recomputed
 *   wcls             (vocab, dim), only when vocab_size is negative (unshared classifier)
 * Weights are read per tensor at their offsets, like the safetensors reader.
 */
import { closeSync } from 'node:fs';
import { EngineError } from '../errors';
import { checkRowRange, elementCount, openRegularFile, readExactly } from './file-io';
import { llamaLikeTraits } from './families/family';
import { checkSpecBounds, SPEC_LIMITS } from './spec-bounds';
import { type ModelSpec, paramName, type TensorInfo, type WeightSource } from './spec';

const HEADER_BYTES = 7 * 4;

/** Newer llama2.c exports (version 1+) start with this uint32 magic instead of dim. */
const VERSIONED_EXPORT_MAGIC = 0x616b3432;

/** spec-bounds.ts's bounds, checked on the raw header before any size arithmetic. */
const LIMITS = { dim: SPEC_LIMITS.dModel, hiddenDim: SPEC_LIMITS.dMlp, nLayers: SPEC_LIMITS.nLayers, vocab: SPEC_LIMITS.dVocab, maxSeqLen: SPEC_LIMITS.nCtx };

interface Region {
  offset: number; // byte offset in the file
  shape: number[];
  /** Heads whose rows are permuted from interleaved to rotate-half rotary layout (q and k only). */
  rotaryHeads?: number;
}

const badFile = (file: string, problem: string) => new EngineError('bad_model_file', `${file}: ${problem}`);

export function openLlama2c(file: string): { spec: ModelSpec; weights: WeightSource } {
  const { fd, size: fileSize } = openRegularFile(file, 'checkpoint', 'bad_model_file');
  try {
    if (fileSize < HEADER_BYTES) throw badFile(file, `file is ${fileSize} bytes, shorter than the ${HEADER_BYTES}-byte llama2.c header`);
    const headerBytes = new Uint8Array(HEADER_BYTES);
    readExactly(fd, headerBytes, 0, file);
    const view = new DataView(headerBytes.buffer);
    const [dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabField, maxSeqLen] = Array.from({ length: 7 }, (_, i) => view.getInt32(i * 4, true));
    if (dim === VERSIONED_EXPORT_MAGIC) {
      throw badFile(file, 'this is a versioned llama2.c export (magic "ak42"); only the legacy v0 format is read (export with --version 0)');
    }
    const header = `dim ${dim}, hidden_dim ${hiddenDim}, n_layers ${nLayers}, n_heads ${nHeads}, n_kv_heads ${nKvHeads}, vocab_size ${vocabField}, max_seq_len ${maxSeqLen}`;
    const implausible = (why: string) => badFile(file, `implausible llama2.c header (${header}): ${why}`);
    // A negative vocab_size is llama2.c's flag for "a separate classifier follows".
    const sharedClassifier = vocabField > 0;
    const vocab = Math.abs(vocabField);
    const bounded: Array<[string, number, number]> = [
      ['dim', dim, LIMITS.dim],
      ['hidden_dim', hiddenDim, LIMITS.hiddenDim],
      ['n_layers', nLayers, LIMITS.nLayers],
      ['vocab_size', vocab, LIMITS.vocab],
      ['max_seq_len', maxSeqLen, LIMITS.maxSeqLen],
      ['n_heads', nHeads, dim],
      ['n_kv_heads', nKvHeads, nHeads],
    ];
    for (const [field, value, max] of bounded) {
      if (!(value > 0 && value <= max)) throw implausible(`${field} must be between 1 and ${max}`);
    }
    if (dim % nHeads !== 0) throw implausible('dim is not divisible by n_heads');
    if (nHeads % nKvHeads !== 0) throw implausible('n_heads is not a multiple of n_kv_heads');
    const headSize = dim / nHeads;
    if (headSize % 2 !== 0) throw implausible('head size is odd, rotary embeddings need it even');

    const kvDim = nKvHeads * headSize;
    let offset = HEADER_BYTES;
    const regions = new Map<string, Region>();
    const place = (name: string, shape: number[], rotaryHeads?: number) => {
      regions.set(name, { offset, shape, rotaryHeads });
      offset += elementCount(shape) * 4;
    };
    const perLayer = (name: (layer: number) => string, shape: number[], rotaryHeads?: number) => {
      for (let layer = 0; layer < nLayers; layer++) place(name(layer), shape, rotaryHeads);
    };
    place(paramName.embed(), [vocab, dim]);
    perLayer(paramName.ln1, [dim]);
    perLayer(paramName.q, [dim, dim], nHeads);
    perLayer(paramName.k, [kvDim, dim], nKvHeads);
    perLayer(paramName.v, [kvDim, dim]);
    perLayer(paramName.o, [dim, dim]);
    perLayer(paramName.ln2, [dim]);
    perLayer(paramName.gate, [hiddenDim, dim]);
    perLayer(paramName.down, [dim, hiddenDim]);
    perLayer(paramName.up, [hiddenDim, dim]);
    place(paramName.lnFinal(), [dim]);
    offset += maxSeqLen * headSize * 4; // freq_cis real + imaginary, (max_seq_len, head_size / 2) each
    if (!sharedClassifier) place(paramName.unembed(), [vocab, dim]);

    if (fileSize !== offset) {
      const classifier = sharedClassifier ? 'shared classifier' : 'separate classifier';
      throw badFile(file, `expected ${offset} bytes for header (${header}) with a ${classifier}, but the file has ${fileSize} bytes`);
    }

    const spec: ModelSpec = {
      family: 'llama',
      architecture: 'llama2.c',
      dModel: dim,
      nLayers,
      nHeads,
      nKvHeads,
      dHead: headSize,
      dMlp: hiddenDim,
      dVocab: vocab,
      nCtx: maxSeqLen,
      normEps: 1e-5, // run.c's rmsnorm
      ropeTheta: 10000, // run.c's rotary frequency base
      ropeScaling: null,
      tiedEmbeddings: sharedClassifier,
      // run.c's BOS/EOS (Llama 2 SentencePiece ids); llama2.c files do not record them.
      bosTokenId: 1,
      eosTokenIds: [2],
      traits: llamaLikeTraits(nLayers, headSize), // run.c's forward(): RMSNorm, rotary, SwiGLU, no biases
    };
    checkSpecBounds(spec, file, 'bad_model_file');
    return { spec, weights: new Llama2cWeights(file, fd, regions) };
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

class Llama2cWeights implements WeightSource {
  readonly files: string[];
  private closed = false;

  constructor(
    private readonly file: string,
    private readonly fd: number,
    private readonly regions: Map<string, Region>,
  ) {
    this.files = [file];
  }

  has(name: string): boolean {
    return this.regions.has(name);
  }

  info(name: string): TensorInfo {
    return { shape: [...this.region(name).shape], dtype: 'F32' };
  }

  read(name: string): Float32Array {
    return this.readRows(name, 0, this.region(name).shape[0]);
  }

  readRows(name: string, first: number, count: number): Float32Array {
    const { offset, shape, rotaryHeads } = this.region(name);
    if (this.closed) throw new EngineError('bad_argument', `${this.file} was closed before reading "${name}"`);
    const cols = checkRowRange(shape, first, count, 4, `${this.file}: parameter "${name}"`);
    const out = new Float32Array(count * cols);
    const bytes = new Uint8Array(out.buffer);
    // The checkpoint is little-endian float32, as is every platform Electron ships on.
    if (rotaryHeads === undefined) {
      readExactly(this.fd, bytes, offset + first * cols * 4, this.file);
      return out;
    }
    const headDim = shape[0] / rotaryHeads;
    for (let row = 0; row < count; row++) {
      const stored = storedRotaryRow(first + row, headDim);
      readExactly(this.fd, bytes.subarray(row * cols * 4, (row + 1) * cols * 4), offset + stored * cols * 4, this.file);
    }
    return out;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }

  private region(name: string): Region {
    const region = this.regions.get(name);
    if (!region) throw new EngineError('bad_argument', `${this.file} has no parameter "${name}"`);
    return region;
  }
}

/**
 * run.c rotates interleaved pairs (dims 2i, 2i+1 of each head); the graph rotates halves
 * (HF `rotate_half`, pairs i and i + head_dim/2). Reordering each head's output rows
 * makes the two equivalent. This is the permutation of transformers'
 * convert_llama_weights_to_hf.py and llama2.c's export.py:
 *   w.view(n_heads, head_dim // 2, 2, dim).transpose(1, 2).reshape(n_heads * head_dim, dim)
 * i.e. new row (head, half, i) = old row (head, i, half). Returns the old (stored) row.
 */
function storedRotaryRow(row: number, headDim: number): number {
  const halfDim = headDim / 2;
  const head = Math.floor(row / headDim);
  const half = Math.floor((row % headDim) / halfDim);
  const i = row % halfDim;
  return head * headDim + i * 2 + half;
}
