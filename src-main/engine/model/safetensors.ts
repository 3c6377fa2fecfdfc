/**
 * Safetensors reader (https://huggingface.co/docs/safetensors), single file or sharded.
 *
 * File layout: u64 little-endian header length N, N bytes of JSON
 * `{ name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__"?: {...} }`,
 * then the data section; offsets are relative to the start of the data section.
 *
 * Only the header is read at open time. Each tensor is read with positioned reads when
 * asked for, so a multi-GB checkpoint never has to fit in memory twice. Files are
 * untrusted: every structural problem becomes EngineError('bad_model_file') naming the
 * file (and the tensor), never a crash, a hang or a huge allocation.
 */
import { closeSync, existsSync, fstatSync } from 'node:fs';
import { dirname, resolve, sep } from 'node:path';
import { EngineError } from '../errors';
import { parseJson } from '../../../src-shared/json-syntax';
import { checkInsideFolder, checkRowRange, elementCount, openRegularFile, readExactly, readTextFile } from './file-io';
import type { SourceDtype, TensorInfo, WeightSource } from './spec';

/** A weight source under the checkpoint's own tensor names, which it can list. */
export interface TensorReader extends WeightSource {
  names(): string[];
}

/** Headers of real checkpoints are well under 1 MB; anything this big is corrupt or hostile. */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

const BYTES_PER_ELEMENT: Record<SourceDtype, number> = { F32: 4, F16: 2, BF16: 2 };

/** F16/BF16 are converted through a scratch buffer of this size, not a full-size copy. */
const CONVERT_CHUNK_BYTES = 16 * 1024 * 1024;

interface TensorEntry extends TensorInfo {
  /** Absolute byte range in the file. */
  begin: number;
  end: number;
}

const badFile = (file: string, problem: string): EngineError => new EngineError('bad_model_file', `${file}: ${problem}`);

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const isSourceDtype = (value: string): value is SourceDtype => Object.hasOwn(BYTES_PER_ELEMENT, value);

const isNonNegativeInt = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;

/** One file's reader, with the header's free-form `__metadata__` strings (non-strings dropped). */
export interface SafetensorsFileReader extends TensorReader {
  readonly metadata: Record<string, string>;
}

/** Open one .safetensors file and validate its header. */
export function openSafetensors(file: string): SafetensorsFileReader {
  const { fd } = openRegularFile(file, 'safetensors file', 'bad_model_file');
  try {
    const { entries, metadata } = readHeader(fd, file);
    return new SafetensorsFile(file, fd, entries, metadata);
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

function readHeader(fd: number, file: string): { entries: Map<string, TensorEntry>; metadata: Record<string, string> } {
  const fileSize = fstatSync(fd).size;
  if (fileSize < 8) throw badFile(file, `file is ${fileSize} bytes, too short for a safetensors header`);
  const lengthBytes = new Uint8Array(8);
  readExactly(fd, lengthBytes, 0, file);
  const headerLength = new DataView(lengthBytes.buffer).getBigUint64(0, true);
  // The length is not quoted: for a file that is not safetensors at all, it is 8 bytes of its content.
  if (headerLength > BigInt(MAX_HEADER_BYTES)) {
    throw badFile(file, `its header length exceeds the ${MAX_HEADER_BYTES}-byte limit (not a safetensors file?)`);
  }
  if (headerLength > BigInt(fileSize - 8)) {
    throw badFile(file, `its header length exceeds the file size (${fileSize} bytes; not a safetensors file?)`);
  }
  const headerBytes = new Uint8Array(Number(headerLength));
  readExactly(fd, headerBytes, 8, file);

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    throw badFile(file, 'header is not UTF-8 text (not a safetensors file?)');
  }
  const parsed = parseJson(text);
  if (!parsed.ok) throw badFile(file, `header is ${parsed.message}`);
  const header = parsed.value;
  if (!isRecord(header)) throw badFile(file, 'header is not a JSON object');

  const dataStart = 8 + headerBytes.byteLength;
  const dataSize = fileSize - dataStart;
  const entries = new Map<string, TensorEntry>();
  const metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') {
      // Free-form string map: weights ignore it; vector files carry their provenance in it.
      if (isRecord(raw)) for (const [key, value] of Object.entries(raw)) if (typeof value === 'string') metadata[key] = value;
      continue;
    }
    entries.set(name, parseEntry(name, raw, dataStart, dataSize, file));
  }
  checkNoOverlap(entries, file);
  return { entries, metadata };
}

function parseEntry(name: string, raw: unknown, dataStart: number, dataSize: number, file: string): TensorEntry {
  const bad = (problem: string) => badFile(file, `tensor "${name}": ${problem}`);
  if (!isRecord(raw)) throw bad('entry is not an object');
  const { dtype, shape, data_offsets: offsets } = raw;
  if (typeof dtype !== 'string') throw bad('missing or invalid dtype');
  if (!isSourceDtype(dtype)) throw bad(`unsupported dtype ${dtype} (supported: ${Object.keys(BYTES_PER_ELEMENT).join(', ')})`);
  if (!Array.isArray(shape) || !shape.every(isNonNegativeInt)) throw bad('missing or invalid shape (expected an array of non-negative integers)');
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegativeInt)) {
    throw bad('missing or invalid data_offsets (expected [begin, end])');
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end || end > dataSize) {
    throw bad(`data_offsets [${begin}, ${end}] are outside the data section (${dataSize} bytes)`);
  }
  const expectedBytes = elementCount(shape) * BYTES_PER_ELEMENT[dtype];
  if (end - begin !== expectedBytes) {
    throw bad(`data_offsets span ${end - begin} bytes but shape [${shape.join(', ')}] of ${dtype} needs ${expectedBytes}`);
  }
  return { dtype, shape: [...shape], begin: dataStart + begin, end: dataStart + end };
}

function checkNoOverlap(entries: Map<string, TensorEntry>, file: string): void {
  const sorted = [...entries].filter(([, e]) => e.end > e.begin).sort(([, a], [, b]) => a.begin - b.begin);
  for (let i = 1; i < sorted.length; i++) {
    const [prevName, prev] = sorted[i - 1];
    const [name, entry] = sorted[i];
    if (entry.begin < prev.end) throw badFile(file, `tensors "${prevName}" and "${name}" overlap`);
  }
}

class SafetensorsFile implements SafetensorsFileReader {
  readonly files: string[];
  private closed = false;

  constructor(
    private readonly file: string,
    private readonly fd: number,
    private readonly entries: Map<string, TensorEntry>,
    readonly metadata: Record<string, string>,
  ) {
    this.files = [file];
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  info(name: string): TensorInfo {
    const { shape, dtype } = this.entry(name);
    return { shape: [...shape], dtype };
  }

  read(name: string): Float32Array {
    const { shape } = this.entry(name);
    return this.readRows(name, 0, shape.length === 0 ? 1 : shape[0]);
  }

  readRows(name: string, first: number, count: number): Float32Array {
    const entry = this.entry(name);
    if (this.closed) throw new EngineError('bad_argument', `${this.file} was closed before reading "${name}"`);
    const rowElements = checkRowRange(entry.shape, first, count, 4, `${this.file}: tensor "${name}"`);
    const bytesPerElement = BYTES_PER_ELEMENT[entry.dtype];
    const begin = entry.begin + first * rowElements * bytesPerElement; // a plain number: exact far beyond 4 GiB
    const elements = count * rowElements;
    const out = new Float32Array(elements);
    if (entry.dtype === 'F32') {
      // Safetensors is little-endian, as is every platform Electron ships on: read in place.
      readExactly(this.fd, new Uint8Array(out.buffer), begin, this.file);
      return out;
    }
    const decode = entry.dtype === 'F16' ? decodeF16 : decodeBf16;
    const chunkElements = CONVERT_CHUNK_BYTES / 2;
    const scratch = new Uint16Array(Math.min(elements, chunkElements));
    for (let start = 0; start < elements; start += chunkElements) {
      const part = scratch.subarray(0, Math.min(chunkElements, elements - start));
      readExactly(this.fd, new Uint8Array(part.buffer, 0, part.byteLength), begin + start * 2, this.file);
      decode(part, out.subarray(start, start + part.length));
    }
    return out;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }

  private entry(name: string): TensorEntry {
    const entry = this.entries.get(name);
    if (!entry) throw new EngineError('bad_argument', `${this.file} has no tensor "${name}"`);
    return entry;
  }
}

/** bfloat16 is the top half of a float32, so widening is a shift. */
function decodeBf16(source: Uint16Array, target: Float32Array): void {
  const bits = new Uint32Array(target.buffer, target.byteOffset, target.length);
  for (let i = 0; i < source.length; i++) bits[i] = source[i] << 16;
}

let f16Table: Float32Array | null = null;

/** IEEE half precision via a 65536-entry table (256 KiB), built on first use. */
function decodeF16(source: Uint16Array, target: Float32Array): void {
  f16Table ??= buildF16Table();
  const table = f16Table;
  for (let i = 0; i < source.length; i++) target[i] = table[source[i]];
}

function buildF16Table(): Float32Array {
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exponent = (h >> 10) & 0x1f;
    const mantissa = h & 0x3ff;
    if (exponent === 0) table[h] = sign * mantissa * 2 ** -24; // zero and subnormals
    else if (exponent === 0x1f) table[h] = mantissa ? NaN : sign * Infinity;
    else table[h] = sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
  }
  return table;
}

/**
 * Open a sharded checkpoint from its `model.safetensors.index.json`
 * (`{ "metadata": {...}, "weight_map": { tensor: shard file } }`). Every shard is opened
 * and validated now, and every tensor the index names must be in its shard.
 */
export function openShardedSafetensors(indexFile: string): TensorReader {
  const parsed = parseJson(readTextFile(indexFile, 'safetensors index', 'bad_model_file', MAX_HEADER_BYTES));
  if (!parsed.ok) throw badFile(indexFile, parsed.message);
  const index = parsed.value;
  const weightMap = isRecord(index) ? index.weight_map : undefined;
  if (!isRecord(weightMap)) throw badFile(indexFile, 'missing "weight_map" object');

  const folder = dirname(resolve(indexFile));
  const shardOf = new Map<string, string>();
  for (const [name, shard] of Object.entries(weightMap)) {
    if (typeof shard !== 'string') throw badFile(indexFile, `weight_map entry "${name}" is not a file name`);
    const shardPath = resolve(folder, shard);
    // Shards live beside the index; a name that escapes the folder is refused.
    if (!shardPath.startsWith(folder + sep)) throw badFile(indexFile, `shard "${shard}" is outside the model folder`);
    checkInsideFolder(shardPath, folder, 'shard', 'bad_model_file');
    shardOf.set(name, shardPath);
  }

  const shards = new Map<string, TensorReader>();
  try {
    for (const shardPath of new Set(shardOf.values())) {
      if (!existsSync(shardPath)) throw badFile(indexFile, `shard ${shardPath} is missing`);
      shards.set(shardPath, openSafetensors(shardPath));
    }
    for (const [name, shardPath] of shardOf) {
      if (!shards.get(shardPath)?.has(name)) throw badFile(indexFile, `tensor "${name}" is not in its shard ${shardPath}`);
    }
  } catch (error) {
    for (const shard of shards.values()) shard.close();
    throw error;
  }
  return new ShardedSafetensors(indexFile, shardOf, shards);
}

class ShardedSafetensors implements TensorReader {
  readonly files: string[];

  constructor(
    private readonly indexFile: string,
    private readonly shardOf: Map<string, string>,
    private readonly shards: Map<string, TensorReader>,
  ) {
    this.files = [...shards.keys()];
  }

  names(): string[] {
    return [...this.shardOf.keys()];
  }

  has(name: string): boolean {
    return this.shardOf.has(name);
  }

  info(name: string): TensorInfo {
    return this.shard(name).info(name);
  }

  read(name: string): Float32Array {
    return this.shard(name).read(name);
  }

  readRows(name: string, first: number, count: number): Float32Array {
    return this.shard(name).readRows(name, first, count);
  }

  close(): void {
    for (const shard of this.shards.values()) shard.close();
  }

  private shard(name: string): TensorReader {
    const shardPath = this.shardOf.get(name);
    if (shardPath === undefined) throw new EngineError('bad_argument', `${this.indexFile} has no tensor "${name}"`);
    return this.shards.get(shardPath) as TensorReader;
  }
}
