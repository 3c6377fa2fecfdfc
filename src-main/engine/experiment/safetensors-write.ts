/**
 * Safetensors writer for experiment sidecars, F32 only (the engine feeds vectors as
 * float32). Layout as the reference implementation writes it, so Python's
 * `safetensors.safe_open` reads the file directly:
 *
 *   u64 LE header length N | N bytes of JSON header, space-padded to a multiple of 8 | data
 *
 * The header is `{ "__metadata__": { string: string }, name: { dtype, shape, data_offsets } }`
 * with offsets relative to the data section, tensors laid out in the order given. The
 * engine reads these files back with model/safetensors.ts.
 */

export interface F32Tensor {
  shape: number[];
  data: Float32Array;
}

export function safetensorsBytes(tensors: ReadonlyMap<string, F32Tensor>, metadata: Record<string, string>): Buffer {
  const header: Record<string, unknown> = { __metadata__: metadata };
  const payloads: Uint8Array[] = [];
  let offset = 0;
  for (const [name, { shape, data }] of tensors) {
    const count = shape.reduce((product, dim) => product * dim, 1);
    if (count !== data.length) throw new Error(`tensor "${name}": shape [${shape.join(', ')}] needs ${count} values, got ${data.length}`);
    // Little-endian in memory on every platform Electron ships on, so the bytes go as they are.
    payloads.push(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + data.byteLength] };
    offset += data.byteLength;
  }
  let json = JSON.stringify(header);
  // Padding keeps the data section 8-byte aligned, as the reference writer does.
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(headerBytes.byteLength));
  return Buffer.concat([prefix, headerBytes, ...payloads]);
}
