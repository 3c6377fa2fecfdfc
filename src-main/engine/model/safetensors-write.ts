/**
 * Safetensors writer, the counterpart of safetensors.ts: experiment sidecars write
 * float32 vectors with it (and the tests write fixture checkpoints in any dtype). Layout
 * as the reference implementation writes it, so Python's `safetensors.safe_open` reads
 * the files directly:
 *
 *   u64 LE header length N | N bytes of JSON header, space-padded to a multiple of 8 | data
 *
 * The header is `{ "__metadata__": { string: string }, name: { dtype, shape, data_offsets } }`
 * with offsets relative to the data section, tensors laid out in the order given.
 */

/** A tensor already encoded in its dtype, little-endian. */
export interface EncodedTensor {
  dtype: string;
  shape: number[];
  bytes: Uint8Array;
}

export interface F32Tensor {
  shape: number[];
  data: Float32Array;
}

export function encodedSafetensors(tensors: Iterable<[string, EncodedTensor]>, metadata?: Record<string, string>): Buffer {
  const header: Record<string, unknown> = metadata ? { __metadata__: metadata } : {};
  const payloads: Uint8Array[] = [];
  let offset = 0;
  for (const [name, { dtype, shape, bytes }] of tensors) {
    header[name] = { dtype, shape, data_offsets: [offset, offset + bytes.byteLength] };
    payloads.push(bytes);
    offset += bytes.byteLength;
  }
  let json = JSON.stringify(header);
  // Padding keeps the data section 8-byte aligned, as the reference writer does.
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(headerBytes.byteLength));
  return Buffer.concat([prefix, headerBytes, ...payloads]);
}

/** Float32 tensors as a safetensors file. */
export function safetensorsBytes(tensors: ReadonlyMap<string, F32Tensor>, metadata: Record<string, string>): Buffer {
  const encoded = [...tensors].map(([name, { shape, data }]): [string, EncodedTensor] => {
    const count = shape.reduce((product, dim) => product * dim, 1);
    if (count !== data.length) throw new Error(`tensor "${name}": shape [${shape.join(', ')}] needs ${count} values, got ${data.length}`);
    // Little-endian in memory on every platform Electron ships on, so the bytes go as they are.
    return [name, { dtype: 'F32', shape, bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) }];
  });
  return encodedSafetensors(encoded, metadata);
}
