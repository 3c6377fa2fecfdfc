/**
 * An independent GGUF reader for tests, written from the spec (ggml docs/gguf.md) alone
 * and sharing no code with engine/interchange/gguf.ts, so a file Tiller writes is checked
 * by a second implementation. It mirrors the fields of interchange/gguf/INSPECTION.json
 * (checked against those real files too), and it trusts its input: tests only.
 */
const TYPE_NAMES = ['UINT8', 'INT8', 'UINT16', 'INT16', 'UINT32', 'INT32', 'FLOAT32', 'BOOL', 'STRING', 'ARRAY', 'UINT64', 'INT64', 'FLOAT64'];

export interface ReferenceKv {
  key: string;
  type: string;
  value: unknown;
}

export interface ReferenceTensor {
  name: string;
  dims: number[];
  type_id: number;
  offset: number;
  values: number[];
}

export interface ReferenceGguf {
  version: number;
  tensor_count: number;
  kv_count: number;
  kv: ReferenceKv[];
  alignment: number;
  header_end: number;
  data_start: number;
  tensors: ReferenceTensor[];
}

export function referenceReadGguf(bytes: Uint8Array): ReferenceGguf {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const take = (n: number): number => {
    const was = at;
    at += n;
    return was;
  };
  const u32 = () => view.getUint32(take(4), true);
  const u64 = () => Number(view.getBigUint64(take(8), true));
  const str = () => {
    const n = u64();
    return new TextDecoder().decode(bytes.subarray(take(n), at));
  };
  const readValue = (typeId: number): unknown => {
    switch (TYPE_NAMES[typeId]) {
      case 'UINT8': return view.getUint8(take(1));
      case 'INT8': return view.getInt8(take(1));
      case 'UINT16': return view.getUint16(take(2), true);
      case 'INT16': return view.getInt16(take(2), true);
      case 'UINT32': return view.getUint32(take(4), true);
      case 'INT32': return view.getInt32(take(4), true);
      case 'FLOAT32': return view.getFloat32(take(4), true);
      case 'BOOL': return view.getUint8(take(1)) === 1;
      case 'STRING': return str();
      case 'UINT64': return view.getBigUint64(take(8), true);
      case 'INT64': return view.getBigInt64(take(8), true);
      case 'FLOAT64': return view.getFloat64(take(8), true);
      case 'ARRAY': {
        const itemType = u32();
        const n = u64();
        return Array.from({ length: n }, () => readValue(itemType));
      }
      default:
        throw new Error(`unknown GGUF value type ${typeId}`);
    }
  };

  const magic = new TextDecoder().decode(bytes.subarray(take(4), at));
  if (magic !== 'GGUF') throw new Error(`bad magic ${magic}`);
  const version = u32();
  const tensorCount = u64();
  const kvCount = u64();
  const kv: ReferenceKv[] = [];
  for (let i = 0; i < kvCount; i++) {
    const key = str();
    const typeId = u32();
    kv.push({ key, type: TYPE_NAMES[typeId], value: readValue(typeId) });
  }
  const infos = Array.from({ length: tensorCount }, () => {
    const name = str();
    const dims = Array.from({ length: u32() }, () => u64());
    return { name, dims, type_id: u32(), offset: u64() };
  });
  const alignment = Number(kv.find((entry) => entry.key === 'general.alignment')?.value ?? 32);
  const headerEnd = at;
  const dataStart = headerEnd + ((alignment - (headerEnd % alignment)) % alignment);
  const tensors = infos.map((info) => {
    if (info.type_id !== 0) throw new Error(`reference reader handles F32 only, got type ${info.type_id}`);
    const count = info.dims.reduce((a, b) => a * b, 1);
    const values = Array.from({ length: count }, (_, i) => view.getFloat32(dataStart + info.offset + 4 * i, true));
    return { ...info, values };
  });
  return { version, tensor_count: tensorCount, kv_count: kvCount, kv, alignment, header_end: headerEnd, data_start: dataStart, tensors };
}
