/**
 * The graph-layout weights of a model, written once to a cache folder as one
 * external-data file that every compiled graph of that model references. Sessions
 * then memory-map the same file instead of copying weights (ORT-NOTES.md section 3).
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { elementCount } from '../model/file-io';

/** A tensor the graph needs, produced on demand (read, converted, transposed) when the file is written. */
export interface GraphWeight {
  name: string;
  dims: number[];
  produce: () => Float32Array;
}

export interface WeightEntry {
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
  version: z.literal(1),
  fingerprint: z.string(),
  file: z.literal(WEIGHTS_FILE),
  tensors: z.record(z.string(), z.object({ dims: z.array(z.number().int().nonnegative()), offset: z.number().int().nonnegative(), length: z.number().int().nonnegative() })),
});

export type WeightManifest = z.infer<typeof manifestSchema>;

export function weightsFilePath(dir: string): string {
  return join(dir, WEIGHTS_FILE);
}

/** Reuse the cached file when its manifest matches the fingerprint and tensor list; otherwise write it. */
export function ensureWeightFile(dir: string, fingerprint: string, weights: GraphWeight[]): WeightManifest {
  const cached = readManifest(dir);
  if (cached && cached.fingerprint === fingerprint && weights.every((w) => sameDims(cached.tensors[w.name]?.dims, w.dims))) {
    return cached;
  }
  mkdirSync(dir, { recursive: true });
  const manifest = writeWeightFile(dir, fingerprint, weights);
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
    return null; // a damaged cache entry is rewritten, not reported
  }
}

function sameDims(a: number[] | undefined, b: number[]): boolean {
  return a !== undefined && a.length === b.length && a.every((d, i) => d === b[i]);
}

function writeWeightFile(dir: string, fingerprint: string, weights: GraphWeight[]): WeightManifest {
  const tmpPath = join(dir, `${WEIGHTS_FILE}.tmp`);
  const fd = openSync(tmpPath, 'w');
  const tensors: WeightManifest['tensors'] = {};
  let offset = 0;
  try {
    for (const weight of weights) {
      const data = weight.produce();
      const expected = elementCount(weight.dims);
      if (data.length !== expected) throw new Error(`weight ${weight.name}: produced ${data.length} values, expected ${expected}`);
      const padded = Math.ceil(offset / ALIGNMENT) * ALIGNMENT;
      if (padded > offset) writeSync(fd, new Uint8Array(padded - offset));
      offset = padded;
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      writeAll(fd, bytes);
      tensors[weight.name] = { dims: weight.dims, offset, length: bytes.length };
      offset += bytes.length;
    }
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    rmSync(tmpPath, { force: true });
    throw error;
  }
  closeSync(fd);
  renameSync(tmpPath, weightsFilePath(dir));
  return { format: 'tiller-weights', version: 1, fingerprint, file: WEIGHTS_FILE, tensors };
}

// fs.writeSync takes at most 2 GiB per call.
function writeAll(fd: number, bytes: Uint8Array): void {
  const chunk = 1 << 30;
  for (let start = 0; start < bytes.length; start += chunk) {
    const part = bytes.subarray(start, Math.min(bytes.length, start + chunk));
    let written = 0;
    while (written < part.length) written += writeSync(fd, part, written);
  }
}
