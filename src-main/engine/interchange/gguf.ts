/**
 * GGUF container, read and write (ggml docs/gguf.md), as far as steering vectors need it:
 * every metadata value type, and F32 / F16 tensors.
 *
 *   "GGUF" | u32 version | u64 tensor_count | u64 kv_count
 *   kv_count x (string key | u32 type | value)
 *   tensor_count x (string name | u32 n_dims | u64 dims[n_dims] | u32 ggml_type | u64 offset)
 *   padding to `general.alignment` (default 32) | tensor data, each at offset from here
 *
 * Strings are u64 length + UTF-8 bytes; arrays are u32 element type + u64 count + elements.
 * Everything is little-endian (version 3 allows big-endian files, which read as a huge
 * version and are refused by name). Files are untrusted: every count and offset is checked
 * against the bytes present before it is used.
 */
import { EngineError } from '../errors';

export const GGUF_MAGIC = 'GGUF';
const DEFAULT_ALIGNMENT = 32;

/** Metadata value types by their id in the file. */
export const GGUF_VALUE_TYPES = ['UINT8', 'INT8', 'UINT16', 'INT16', 'UINT32', 'INT32', 'FLOAT32', 'BOOL', 'STRING', 'ARRAY', 'UINT64', 'INT64', 'FLOAT64'] as const;
export type GgufValueType = (typeof GGUF_VALUE_TYPES)[number];

/** ggml tensor types this reader decodes; any other id is reported by number. */
const GGML_TYPES: Record<number, { name: string; bytes: number }> = { 0: { name: 'F32', bytes: 4 }, 1: { name: 'F16', bytes: 2 } };

export type GgufScalar = number | bigint | boolean | string;
export type GgufValue = GgufScalar | GgufScalar[];

export interface GgufEntry {
  type: GgufValueType;
  /** For arrays, the element type. */
  itemType?: GgufValueType;
  value: GgufValue;
}

export interface GgufTensor {
  name: string;
  /** ggml order: dims[0] is the innermost (contiguous) dimension. */
  dims: number[];
  type: string;
  data: Float32Array;
}

export interface GgufFile {
  version: number;
  metadata: Map<string, GgufEntry>;
  tensors: GgufTensor[];
}

/** A problem with the bytes of `file`, naming where in the file it is. */
const bad = (file: string, problem: string): EngineError => new EngineError('bad_argument', `${file}: ${problem}`);

class Cursor {
  offset = 0;
  constructor(
    private readonly bytes: Buffer,
    private readonly file: string,
  ) {}

  private need(count: number, what: string): void {
    if (this.offset + count > this.bytes.length) throw bad(this.file, `truncated GGUF: ${what} at byte ${this.offset} needs ${count} bytes, the file has ${this.bytes.length}`);
  }

  u32(what: string): number {
    this.need(4, what);
    const value = this.bytes.readUInt32LE(this.offset);
    this.offset += 4;
    return value;
  }

  /** A u64 that must fit a safe integer (counts, lengths, offsets). */
  u64(what: string): number {
    this.need(8, what);
    const value = this.bytes.readBigUInt64LE(this.offset);
    this.offset += 8;
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw bad(this.file, `${what} is ${value}, not a usable size`);
    return Number(value);
  }

  string(what: string): string {
    const length = this.u64(`length of ${what}`);
    this.need(length, what);
    const text = this.bytes.toString('utf8', this.offset, this.offset + length);
    this.offset += length;
    return text;
  }

  scalar(type: GgufValueType, what: string): GgufScalar {
    const sizes: Partial<Record<GgufValueType, number>> = { UINT8: 1, INT8: 1, BOOL: 1, UINT16: 2, INT16: 2, UINT32: 4, INT32: 4, FLOAT32: 4, UINT64: 8, INT64: 8, FLOAT64: 8 };
    if (type === 'STRING') return this.string(what);
    const size = sizes[type];
    if (size === undefined) throw bad(this.file, `${what}: arrays of arrays are not supported`);
    this.need(size, what);
    const at = this.offset;
    this.offset += size;
    const b = this.bytes;
    switch (type) {
      case 'UINT8': return b.readUInt8(at);
      case 'INT8': return b.readInt8(at);
      case 'BOOL': return b.readUInt8(at) !== 0;
      case 'UINT16': return b.readUInt16LE(at);
      case 'INT16': return b.readInt16LE(at);
      case 'UINT32': return b.readUInt32LE(at);
      case 'INT32': return b.readInt32LE(at);
      case 'FLOAT32': return b.readFloatLE(at);
      case 'UINT64': return b.readBigUInt64LE(at);
      case 'INT64': return b.readBigInt64LE(at);
      default: return b.readDoubleLE(at);
    }
  }

  valueType(what: string): GgufValueType {
    const id = this.u32(what);
    const type = GGUF_VALUE_TYPES[id];
    if (type === undefined) throw bad(this.file, `${what} is ${id}, not a GGUF value type (0..${GGUF_VALUE_TYPES.length - 1})`);
    return type;
  }
}

/** Parse a whole GGUF file already in memory. */
export function parseGguf(bytes: Buffer, file: string): GgufFile {
  if (bytes.length < 4 || bytes.toString('latin1', 0, 4) !== GGUF_MAGIC) throw bad(file, 'does not start with the GGUF magic');
  const cursor = new Cursor(bytes, file);
  cursor.offset = 4;
  const version = cursor.u32('version');
  if (version === 1) throw bad(file, 'is GGUF version 1 (32-bit counts), which was replaced in 2023; re-export it as version 3');
  // Version 3 written big-endian reads here as 3 << 24.
  if ((version & 0xffffff) === 0 && version >>> 24 <= 3) throw bad(file, `GGUF version reads as ${version}: a big-endian file, which Tiller does not read`);
  if (version > 3) throw bad(file, `is GGUF version ${version}; Tiller reads versions 2 and 3`);
  const tensorCount = cursor.u64('tensor count');
  const kvCount = cursor.u64('metadata count');
  // Each entry takes at least 8 bytes of the file; larger counts are corrupt, caught before looping.
  if (tensorCount > bytes.length / 8 || kvCount > bytes.length / 8) throw bad(file, `claims ${kvCount} metadata entries and ${tensorCount} tensors, more than its ${bytes.length} bytes can hold`);

  const metadata = new Map<string, GgufEntry>();
  for (let i = 0; i < kvCount; i++) {
    const key = cursor.string(`metadata key ${i}`);
    const type = cursor.valueType(`type of "${key}"`);
    if (type !== 'ARRAY') {
      metadata.set(key, { type, value: cursor.scalar(type, `"${key}"`) });
      continue;
    }
    const itemType = cursor.valueType(`element type of "${key}"`);
    const count = cursor.u64(`length of "${key}"`);
    if (count > bytes.length - cursor.offset) throw bad(file, `"${key}" claims ${count} elements, more than the file holds`);
    const value = Array.from({ length: count }, (_, j) => cursor.scalar(itemType, `"${key}"[${j}]`));
    metadata.set(key, { type, itemType, value });
  }

  const infos: { name: string; dims: number[]; typeId: number; offset: number }[] = [];
  for (let i = 0; i < tensorCount; i++) {
    const name = cursor.string(`tensor name ${i}`);
    const nDims = cursor.u32(`dimension count of "${name}"`);
    if (nDims > 4) throw bad(file, `tensor "${name}" has ${nDims} dimensions; GGUF allows at most 4`);
    const dims = Array.from({ length: nDims }, (_, d) => cursor.u64(`dimension ${d} of "${name}"`));
    const typeId = cursor.u32(`type of "${name}"`);
    infos.push({ name, dims, typeId, offset: cursor.u64(`offset of "${name}"`) });
  }

  const alignmentEntry = metadata.get('general.alignment');
  const alignment = alignmentEntry ? Number(alignmentEntry.value) : DEFAULT_ALIGNMENT;
  if (!Number.isInteger(alignment) || alignment <= 0 || alignment % 8 !== 0) throw bad(file, `general.alignment is ${String(alignmentEntry?.value)}; it must be a positive multiple of 8`);
  const dataStart = alignUp(cursor.offset, alignment);

  const tensors = infos.map(({ name, dims, typeId, offset }): GgufTensor => {
    const type = GGML_TYPES[typeId];
    if (!type) throw bad(file, `tensor "${name}" has ggml type ${typeId}; Tiller reads F32 (0) and F16 (1) tensors`);
    if (offset % alignment !== 0) throw bad(file, `tensor "${name}" starts at offset ${offset}, not a multiple of the alignment ${alignment}`);
    const count = dims.reduce((product, dim) => product * dim, 1);
    const begin = dataStart + offset;
    const end = begin + count * type.bytes;
    if (end > bytes.length) throw bad(file, `tensor "${name}" (bytes ${begin}..${end}) runs past the end of the file (${bytes.length} bytes)`);
    return { name, dims, type: type.name, data: decode(bytes.subarray(begin, end), type.name) };
  });
  return { version, metadata, tensors };
}

function decode(bytes: Buffer, type: string): Float32Array {
  const out = new Float32Array(bytes.length / (type === 'F32' ? 4 : 2));
  for (let i = 0; i < out.length; i++) out[i] = type === 'F32' ? bytes.readFloatLE(i * 4) : halfToFloat(bytes.readUInt16LE(i * 2));
  return out;
}

function halfToFloat(half: number): number {
  const sign = half & 0x8000 ? -1 : 1;
  const exponent = (half >> 10) & 0x1f;
  const fraction = half & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction ? Number.NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

const alignUp = (offset: number, alignment: number): number => Math.ceil(offset / alignment) * alignment;

// ---------------------------------------------------------------------------- writing

/** A metadata value to write: the type is explicit, since JSON numbers do not say it. */
export type GgufWriteEntry =
  | { type: 'STRING'; value: string }
  | { type: 'UINT32' | 'INT32' | 'FLOAT32'; value: number }
  | { type: 'BOOL'; value: boolean };

/** GGUF version 3, alignment 32, F32 tensors laid out in the order given. */
export function encodeGguf(metadata: [string, GgufWriteEntry][], tensors: { name: string; data: Float32Array }[]): Buffer {
  const parts: Buffer[] = [];
  const u32 = (value: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(value); parts.push(b); };
  const u64 = (value: number) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(value)); parts.push(b); };
  const string = (text: string) => { const b = Buffer.from(text, 'utf8'); u64(b.length); parts.push(b); };

  parts.push(Buffer.from(GGUF_MAGIC, 'latin1'));
  u32(3);
  u64(tensors.length);
  u64(metadata.length);
  for (const [key, entry] of metadata) {
    string(key);
    u32(GGUF_VALUE_TYPES.indexOf(entry.type));
    const b = Buffer.alloc(4);
    if (entry.type === 'STRING') string(entry.value);
    else if (entry.type === 'BOOL') parts.push(Buffer.from([entry.value ? 1 : 0]));
    else {
      if (entry.type === 'UINT32') b.writeUInt32LE(entry.value);
      else if (entry.type === 'INT32') b.writeInt32LE(entry.value);
      else b.writeFloatLE(entry.value);
      parts.push(b);
    }
  }
  let offset = 0;
  for (const { name, data } of tensors) {
    string(name);
    u32(1);
    u64(data.length);
    u32(0); // F32
    u64(offset);
    offset = alignUp(offset + data.byteLength, DEFAULT_ALIGNMENT);
  }
  const headerLength = parts.reduce((sum, part) => sum + part.length, 0);
  parts.push(Buffer.alloc(alignUp(headerLength, DEFAULT_ALIGNMENT) - headerLength));
  for (const { data } of tensors) {
    const b = Buffer.alloc(alignUp(data.byteLength, DEFAULT_ALIGNMENT));
    data.forEach((value, i) => b.writeFloatLE(value, i * 4));
    parts.push(b);
  }
  return Buffer.concat(parts);
}
