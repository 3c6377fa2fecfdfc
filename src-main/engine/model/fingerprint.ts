/**
 * A weights fingerprint for experiment files: "is this the checkpoint the results came
 * from?". Hashing a multi-GB checkpoint in full takes seconds to minutes, so this is a
 * SAMPLED fingerprint: per file it hashes the basename, the size, the first and last
 * 1 MiB and 32 evenly spaced 64 KiB samples of the middle (about 4 MiB per file).
 * Files up to that size are hashed in full. A change outside the sampled regions of a
 * large file (for example one edited weight in the middle of a tensor) is NOT detected;
 * it is a guard against opening the wrong model, not an integrity check.
 */
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync } from 'node:fs';
import { basename } from 'node:path';
import { EngineError } from '../errors';
import { readExactly } from './file-io';

const EDGE_BYTES = 1024 * 1024;
const SAMPLE_COUNT = 32;
const SAMPLE_BYTES = 64 * 1024;
const FULL_HASH_MAX_BYTES = 2 * EDGE_BYTES + SAMPLE_COUNT * SAMPLE_BYTES;

/** sha256 hex over the files in the order given (callers pass WeightSource.files). */
export function weightsFingerprint(files: string[]): string {
  const hash = createHash('sha256');
  for (const file of files) {
    const fd = openFile(file);
    try {
      const size = fstatSync(fd).size;
      // Length-prefixed name and size, so file boundaries cannot be shifted between fields.
      const name = Buffer.from(basename(file), 'utf8');
      hash.update(`${name.byteLength}:`).update(name).update(`:${size}:`);
      for (const [position, length] of sampledRanges(size)) {
        const bytes = new Uint8Array(length);
        readExactly(fd, bytes, position, file);
        hash.update(bytes);
      }
    } finally {
      closeSync(fd);
    }
  }
  return hash.digest('hex');
}

function openFile(file: string): number {
  try {
    return openSync(file, 'r');
  } catch (error) {
    throw new EngineError('not_found', `cannot open ${file} to fingerprint it: ${(error as Error).message}`);
  }
}

/** [position, length] ranges to hash: the whole file when small, else edges plus samples. */
function sampledRanges(size: number): Array<[number, number]> {
  if (size <= FULL_HASH_MAX_BYTES) return [[0, size]];
  const middleStart = EDGE_BYTES;
  const lastSampleStart = size - EDGE_BYTES - SAMPLE_BYTES;
  const ranges: Array<[number, number]> = [[0, EDGE_BYTES]];
  for (let k = 0; k < SAMPLE_COUNT; k++) {
    const position = middleStart + Math.floor((k * (lastSampleStart - middleStart)) / (SAMPLE_COUNT - 1));
    ranges.push([position, SAMPLE_BYTES]);
  }
  ranges.push([size - EDGE_BYTES, EDGE_BYTES]);
  return ranges;
}
