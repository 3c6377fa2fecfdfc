/**
 * Reads back what the neuron atlas decodes from a model's weight file (weights-file.ts):
 * each MLP neuron's direction in the residual stream, and the unembedding direction of a
 * token, in float32 whatever the storage. Float32 linear weights are stored [in, out]
 * (MatMul), so up/gate rows are columns there and down columns are rows; quantized weights
 * keep the checkpoint's [out, in] row order and are dequantized exactly as MatMulNBits
 * reads them (quantize.ts).
 */
import { closeSync, openSync } from 'node:fs';
import { readExactly, transpose } from '../model/file-io';
import { paramName, type ModelSpec } from '../model/spec';
import type { NeuronMatrix } from '../../../src-shared/analysis-schema';
import { dequantizeRows, quantLayout, quantizedBytes } from './quantize';
import { quantizedNames } from './weight-groups';
import { weightsFilePath, type WeightManifest } from './weights-file';


/** The matrices a model's MLP neurons have: no gate in a plain MLP (GPT-2). */
export function neuronMatrices(spec: ModelSpec): NeuronMatrix[] {
  return spec.traits.mlp === 'gated' ? ['up', 'gate', 'down'] : ['up', 'down'];
}

const PARAM: Record<NeuronMatrix, (layer: number) => string> = { up: paramName.up, gate: paramName.gate, down: paramName.down };

export class WeightRows {
  constructor(
    private readonly dir: string,
    private readonly manifest: WeightManifest,
    private readonly spec: ModelSpec,
  ) {}

  /**
   * Bytes [from, from + bytes) of a stored tensor; with `gather`, `each` bytes at each of
   * those offsets instead, concatenated (a strided column), read through one open file.
   */
  private read(name: string, from: number, bytes: number, gather: number[] = [], each = 0): Uint8Array {
    const entry = this.manifest.tensors[name];
    if (!entry) throw new Error(`weight file lacks ${name}`);
    const ranges = gather.length > 0 ? gather.map((at) => [at, each] as const) : [[from, bytes] as const];
    const target = new Uint8Array(ranges.reduce((sum, [, length]) => sum + length, 0));
    const file = weightsFilePath(this.dir);
    const fd = openSync(file, 'r');
    try {
      let done = 0;
      for (const [at, length] of ranges) {
        if (at < 0 || at + length > entry.length) throw new Error(`weight ${name}: bytes [${at}, ${at + length}) are outside its ${entry.length}`);
        readExactly(fd, target.subarray(done, done + length), entry.offset + at, file);
        done += length;
      }
      return target;
    } finally {
      closeSync(fd);
    }
  }

  /** Rows [first, first + count) of a stored [rows, cols] matrix, as float32 (dequantized where quantized). */
  private storedRows(name: string, rows: number, cols: number, first: number, count: number): Float32Array {
    const { weights } = this.manifest;
    if (weights.format === 'f32') {
      const bytes = this.read(name, first * cols * 4, count * cols * 4);
      return new Float32Array(bytes.buffer, bytes.byteOffset, count * cols);
    }
    const layout = quantLayout(rows, cols, weights.format === 'int8' ? 8 : 4, weights.blockSize);
    const names = quantizedNames(name);
    const perRow = quantizedBytes(layout, 1);
    const scales = this.read(names.scales, first * perRow.scales, count * perRow.scales);
    return dequantizeRows(layout, {
      data: this.read(names.data, first * perRow.data, count * perRow.data),
      scales: new Float32Array(scales.buffer, scales.byteOffset, scales.byteLength / 4),
      zeroPoints: this.read(names.zeroPoints, first * perRow.zeroPoints, count * perRow.zeroPoints),
    });
  }

  /** Every neuron's direction of one layer's matrix: [d_mlp, d_model], neuron-major. */
  neuronDirections(layer: number, matrix: NeuronMatrix): Float32Array {
    const { dModel, dMlp } = this.spec;
    const name = PARAM[matrix](layer);
    // Hugging Face layout [out, in]: up/gate [d_mlp, d_model] (a neuron is a row), down [d_model, d_mlp] (a column).
    const [out, inFeatures] = matrix === 'down' ? [dModel, dMlp] : [dMlp, dModel];
    const neuronIsRow = matrix !== 'down';
    if (this.manifest.weights.format === 'f32') {
      const stored = this.storedRows(name, inFeatures, out, 0, inFeatures); // [in, out]
      return neuronIsRow ? transpose(stored, inFeatures, out) : stored;
    }
    const stored = this.storedRows(name, out, inFeatures, 0, out); // [out, in]
    return neuronIsRow ? stored : transpose(stored, out, inFeatures);
  }

  /** The unembedding directions of `tokens`: [d_model, tokens.length], as the head multiplies them. */
  unembedDirections(tokens: readonly number[]): Float32Array {
    const { dModel, dVocab } = this.spec;
    const name = paramName.unembed();
    const out = new Float32Array(dModel * tokens.length);
    tokens.forEach((token, j) => {
      if (this.manifest.weights.format === 'f32') {
        // Stored [d_model, d_vocab]: the token's column, one float per row (d_model small reads, not the whole table).
        const column = this.read(name, 0, 0, Array.from({ length: dModel }, (_, d) => (d * dVocab + token) * 4), 4);
        const values = new Float32Array(column.buffer, column.byteOffset, dModel);
        for (let d = 0; d < dModel; d++) out[d * tokens.length + j] = values[d];
        return;
      }
      const row = this.storedRows(name, dVocab, dModel, token, 1); // [1, d_model]
      for (let d = 0; d < dModel; d++) out[d * tokens.length + j] = row[d];
    });
    return out;
  }
}
