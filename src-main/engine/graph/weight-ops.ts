/**
 * The weights of a graph, declared from the model's weight file (weights-file.ts), and the
 * linear product every graph reads them through: the forward pass (forward.ts) and the
 * neuron atlas (atlas-graph.ts) multiply by the same stored matrices the same way.
 */
import type { GraphBuilder, Value } from './builder';
import { MS_DOMAIN } from './builder';
import { matMulNBitsAttributes, quantizedNames } from './weight-groups';
import type { WeightManifest } from './weights-file';

export interface WeightOps {
  /** The stored tensor `name` as a graph value, declared once however often it is read. */
  w(name: string): Value;
  /**
   * x W for a linear weight with `inFeatures` inputs: MatMul on float32 [in, out], or
   * MatMulNBits on the quantized [out, in] blocks (graph/quantize.ts).
   */
  matmul(x: Value, weight: string, inFeatures: number, output?: string): Value;
}

export function weightOps(g: GraphBuilder, manifest: WeightManifest): WeightOps {
  const declared = new Map<string, Value>();
  const w = (name: string): Value => {
    const entry = manifest.tensors[name];
    if (!entry) throw new Error(`weight file lacks ${name}`);
    let value = declared.get(name);
    if (!value) declared.set(name, (value = g.external(name, entry.elemType, entry.dims, { location: manifest.file, offset: entry.offset, length: entry.length })));
    return value;
  };
  const { weights: stored } = manifest;
  const matmul = (x: Value, weight: string, inFeatures: number, output?: string): Value => {
    if (stored.format === 'f32') return g.op1('MatMul', [x, w(weight)], { output });
    const names = quantizedNames(weight);
    const outFeatures = manifest.tensors[names.data]?.dims[0] ?? 0;
    const layout = { rows: outFeatures, cols: inFeatures, bits: stored.format === 'int8' ? 8 : 4, blockSize: stored.blockSize } as const;
    return g.op1('MatMulNBits', [x, w(names.data), w(names.scales), w(names.zeroPoints)], { domain: MS_DOMAIN, attrs: matMulNBitsAttributes(layout, stored.accuracyLevel), output });
  };
  return { w, matmul };
}
