/**
 * llama.cpp control vectors (METHODS.md 7.4): a GGUF with general.architecture =
 * "controlvector", controlvector.model_hint, controlvector.layer_count, and one F32
 * tensor `direction.N` per layer, added to block N's output (blocks.N.hook_resid_post)
 * at every position. Writers differ (interchange/README.md): repeng stores N = 1..L in
 * descending order, EasySteer N = 0..L-1 (llama.cpp refuses N = 0), and layer_count is
 * UINT32 or INT32. So the reader keys on the number in each name, never the order, and a
 * name repeated in one file sums, as llama.cpp's loader does.
 */
import { EngineError } from '../errors';
import { hookName } from '../hooks/names';
import { encodeGguf, parseGguf, type GgufEntry, type GgufWriteEntry } from './gguf';
import { asResidPost, emptySet, outputOfBlock, type VectorSet } from './vector-set';

export const CONTROL_VECTOR_ARCHITECTURE = 'controlvector';
const DIRECTION = /^direction\.(0|[1-9][0-9]*)$/;

const bad = (file: string, problem: string): EngineError => new EngineError('bad_argument', `${file}: ${problem}`);

export function readControlVector(bytes: Buffer, file: string): VectorSet {
  const gguf = parseGguf(bytes, file);
  const architecture = gguf.metadata.get('general.architecture')?.value;
  if (architecture !== CONTROL_VECTOR_ARCHITECTURE) {
    throw bad(file, `is a GGUF of architecture ${JSON.stringify(architecture ?? null)} (a model, not a control vector); a control vector has general.architecture = "controlvector"`);
  }
  const set = emptySet('gguf');
  const hint = gguf.metadata.get('controlvector.model_hint')?.value;
  set.model = typeof hint === 'string' ? hint : null;
  for (const [key, entry] of gguf.metadata) set.metadata[key] = metadataText(entry);

  const byBlock = new Map<number, Float32Array>();
  for (const tensor of gguf.tensors) {
    const match = DIRECTION.exec(tensor.name);
    if (!match) throw bad(file, `tensor "${tensor.name}" is not named direction.N`);
    if (tensor.dims.length !== 1) throw bad(file, `tensor "${tensor.name}" has shape [${tensor.dims.join(', ')}]; a direction is 1-D`);
    const block = Number(match[1]);
    const sum = byBlock.get(block);
    if (!sum) byBlock.set(block, Float32Array.from(tensor.data));
    else if (sum.length !== tensor.data.length) throw bad(file, `direction.${block} appears twice with different widths (${sum.length} and ${tensor.data.length})`);
    else {
      tensor.data.forEach((value, i) => (sum[i] += value));
      set.warnings.push(`direction.${block} appears more than once; the copies are summed, as llama.cpp does`);
    }
  }
  if (byBlock.size === 0) throw bad(file, 'is a control vector with no direction tensors');
  const widths = new Set([...byBlock.values()].map((vector) => vector.length));
  if (widths.size > 1) throw bad(file, `directions have different widths (${[...widths].join(', ')})`);
  if (byBlock.has(0)) set.warnings.push('direction.0 is present (EasySteer numbers from 0); llama.cpp refuses it, Tiller adds it to blocks.0.hook_resid_post');
  const declared = gguf.metadata.get('controlvector.layer_count')?.value;
  if (declared !== undefined && Number(declared) < Math.max(...byBlock.keys())) {
    set.warnings.push(`controlvector.layer_count is ${String(declared)} but the file has direction.${Math.max(...byBlock.keys())}`);
  }
  set.vectors = [...byBlock.entries()].sort(([a], [b]) => a - b).map(([block, vector]) => ({ key: `direction.${block}`, hook: hookName.residPost(block), vector }));
  return set;
}

function metadataText(entry: GgufEntry): string {
  return Array.isArray(entry.value) ? JSON.stringify(entry.value.map(String)) : String(entry.value);
}

/**
 * A control vector llama.cpp loads: directions ascending, layer_count = the highest block
 * as UINT32 (what repeng writes: 31 for direction.1..31). Every vector must be a block output; block 0 is
 * refused, as llama.cpp refuses direction.0.
 */
export function writeControlVector(vectors: ReadonlyMap<string, Float32Array>, modelHint: string, extra: Record<string, string> = {}): Buffer {
  const byBlock = new Map<number, Float32Array>();
  for (const [hook, vector] of vectors) {
    const block = outputOfBlock(asResidPost(hook));
    if (block === null || block < 1) throw new EngineError('bad_argument', `${hook} is block 0's output; llama.cpp control vectors start at direction.1 (block 1's output)`);
    if (byBlock.has(block)) throw new EngineError('bad_argument', `two vectors are block ${block}'s output (${hook} and another); combine them first`);
    byBlock.set(block, vector);
  }
  if (byBlock.size === 0) throw new EngineError('bad_argument', 'no vectors to write');
  const blocks = [...byBlock.keys()].sort((a, b) => a - b);
  const metadata: [string, GgufWriteEntry][] = [
    ['general.architecture', { type: 'STRING', value: CONTROL_VECTOR_ARCHITECTURE }],
    ['controlvector.model_hint', { type: 'STRING', value: modelHint }],
    ['controlvector.layer_count', { type: 'UINT32', value: blocks[blocks.length - 1] }],
    ...Object.entries(extra).map(([key, value]): [string, GgufWriteEntry] => [`tiller.${key}`, { type: 'STRING', value }]),
  ];
  return encodeGguf(metadata, blocks.map((block) => ({ name: `direction.${block}`, data: byBlock.get(block) as Float32Array })));
}
