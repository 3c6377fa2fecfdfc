/**
 * The graph-layout weights of a model, written once to a cache folder as one
 * external-data file that every compiled graph of that model references. Sessions
 * then memory-map the same file instead of copying weights (ORT-NOTES.md section 3).
 */
import { closeSync, existsSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { elementCount } from '../model/file-io';
import { weightOptionsSchema, type WeightOptions } from '../model/weight-format';

/** Element types a weight file stores: float32, float16 tables, and MatMulNBits' packed bytes. */
export type StoredType = 'float32' | 'float16' | 'uint8';

const BYTES_PER_ELEMENT: Record<StoredType, number> = { float32: 4, float16: 2, uint8: 1 };

export interface StoredTensor {
  name: string;
  elemType: StoredType;
  dims: number[];
}

/**
 * Tensors the graph needs that are written together from one pass over the checkpoint:
 * one tensor, or a quantized matrix's codes, scales and zero points. Sizes are known up
 * front, so the writer places every tensor before any is produced and the producer
 * writes its bytes piece by piece (a few checkpoint rows at a time).
 */
export interface WeightGroup {
  tensors: StoredTensor[];
  /** Checkpoint values this group converts, in float32 bytes (for progress). */
  sourceBytes: number;
  /** Produce every byte of every tensor through `put(tensor index, byte offset in that tensor, bytes)`. */
  write(put: (tensor: number, at: number, bytes: Uint8Array) => void): void;
}

/** First-load conversion progress: checkpoint bytes converted so far, of the total, and the rate. */
export interface ConversionProgress {
  doneBytes: number;
  totalBytes: number;
  bytesPerSecond: number;
}

export interface WeightEntry {
  elemType: StoredType;
  dims: number[];
  offset: number;
  length: number; // bytes
}

const WEIGHTS_FILE = 'weights.bin';
const MANIFEST_FILE = 'manifest.json';
// 64 KiB alignment keeps every tensor mappable on Windows too (its mmap granularity).
const ALIGNMENT = 64 * 1024;

const manifestSchema = z.object({
  format: z.literal('tiller-weights'),
  version: z.literal(2),
  fingerprint: z.string(),
  /** How the linear layers and the embedding are stored (model/weight-format.ts). */
  weights: weightOptionsSchema,
  file: z.literal(WEIGHTS_FILE),
  tensors: z.record(
    z.string(),
    z.object({
      elemType: z.enum(['float32', 'float16', 'uint8']),
      dims: z.array(z.number().int().nonnegative()),
      offset: z.number().int().nonnegative(),
      length: z.number().int().nonnegative(),
    }),
  ),
});

export type WeightManifest = z.infer<typeof manifestSchema>;

export function weightsFilePath(dir: string): string {
  return join(dir, WEIGHTS_FILE);
}

/**
 * Reuse the cached file when its manifest matches the fingerprint and tensor list;
 * otherwise write it, reporting progress after each group.
 */
export function ensureWeightFile(
  dir: string,
  fingerprint: string,
  weights: WeightOptions,
  groups: WeightGroup[],
  onProgress?: (progress: ConversionProgress) => void,
): WeightManifest {
  const cached = readManifest(dir);
  const wanted = groups.flatMap((group) => group.tensors);
  const sameOptions = (options: WeightOptions) => JSON.stringify(options) === JSON.stringify(weights);
  if (cached && cached.fingerprint === fingerprint && sameOptions(cached.weights) && wanted.every((t) => sameLayout(cached.tensors[t.name], t))) return cached;
  mkdirSync(dir, { recursive: true });
  const manifest = { ...writeWeightFile(dir, fingerprint, groups, onProgress), weights };
  const manifestTmp = join(dir, `${MANIFEST_FILE}.tmp`);
  writeFileSync(manifestTmp, JSON.stringify(manifest));
  renameSync(manifestTmp, join(dir, MANIFEST_FILE));
  return manifest;
}

function readManifest(dir: string): WeightManifest | null {
  const path = join(dir, MANIFEST_FILE);
  if (!existsSync(path) || !existsSync(weightsFilePath(dir))) return null;
  try {
    return manifestSchema.parse(JSON.parse(readFileSync(path, 'utf8')));
  } catch {
    return null; // a damaged or older cache entry is rewritten, not reported
  }
}

function sameLayout(entry: WeightEntry | undefined, tensor: StoredTensor): boolean {
  return entry !== undefined && entry.elemType === tensor.elemType && entry.dims.length === tensor.dims.length && entry.dims.every((d, i) => d === tensor.dims[i]);
}

function writeWeightFile(dir: string, fingerprint: string, groups: WeightGroup[], onProgress?: (progress: ConversionProgress) => void): Omit<WeightManifest, 'weights'> {
  const tensors: WeightManifest['tensors'] = {};
  let end = 0;
  for (const tensor of groups.flatMap((group) => group.tensors)) {
    const offset = Math.ceil(end / ALIGNMENT) * ALIGNMENT;
    const length = elementCount(tensor.dims) * BYTES_PER_ELEMENT[tensor.elemType];
    tensors[tensor.name] = { elemType: tensor.elemType, dims: tensor.dims, offset, length };
    end = offset + length;
  }
  const totalBytes = groups.reduce((sum, group) => sum + group.sourceBytes, 0);
  const started = performance.now();
  let doneBytes = 0;
  const tmpPath = join(dir, `${WEIGHTS_FILE}.tmp`);
  const fd = openSync(tmpPath, 'w');
  try {
    for (const group of groups) {
      const entries = group.tensors.map((tensor) => tensors[tensor.name]);
      const written = entries.map(() => 0);
      group.write((index, at, bytes) => {
        const entry = entries[index];
        if (at < 0 || at + bytes.length > entry.length) throw new Error(`weight ${group.tensors[index].name}: bytes [${at}, ${at + bytes.length}) are outside its ${entry.length}`);
        writeAllAt(fd, bytes, entry.offset + at);
        written[index] += bytes.length;
      });
      written.forEach((bytes, i) => {
        if (bytes !== entries[i].length) throw new Error(`weight ${group.tensors[i].name}: produced ${bytes} bytes, expected ${entries[i].length}`);
      });
      doneBytes += group.sourceBytes;
      onProgress?.({ doneBytes, totalBytes, bytesPerSecond: doneBytes / Math.max(1e-3, (performance.now() - started) / 1000) });
    }
    ftruncateSync(fd, end);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    rmSync(tmpPath, { force: true });
    throw error;
  }
  closeSync(fd);
  renameSync(tmpPath, weightsFilePath(dir));
  return { format: 'tiller-weights', version: 2, fingerprint, file: WEIGHTS_FILE, tensors };
}

// fs.writeSync takes at most 2 GiB per call.
function writeAllAt(fd: number, bytes: Uint8Array, position: number): void {
  const chunk = 1 << 30;
  for (let start = 0; start < bytes.length; start += chunk) {
    const part = bytes.subarray(start, Math.min(bytes.length, start + chunk));
    let written = 0;
    while (written < part.length) written += writeSync(fd, part, written, part.length - written, position + start + written);
  }
}

/** Bytes the cached weight file of a model takes on disk (0 when there is none yet). */
export function weightCacheBytes(dir: string): number {
  const path = weightsFilePath(dir);
  return existsSync(path) ? statSync(path).size : 0;
}
