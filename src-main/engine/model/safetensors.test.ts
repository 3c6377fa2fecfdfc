import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectEngineError } from '../../test/expect-engine-error';
import { writeSafetensors, writeShardedSafetensors, type WriterTensor } from '../../test/fixtures/safetensors-writer';
import { openSafetensors, openShardedSafetensors } from './safetensors';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tiller-safetensors-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Seeded values (mulberry32) so fixtures are identical on every run. */
function seededValues(count: number, seed: number, scale = 1): Float32Array {
  let state = seed >>> 0;
  return Float32Array.from({ length: count }, () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1) * scale;
  });
}

function roundTrip(name: string, tensor: WriterTensor): Float32Array {
  const file = join(dir, name);
  writeSafetensors(file, { t: tensor });
  const reader = openSafetensors(file);
  try {
    expect(reader.info('t')).toEqual({ dtype: tensor.dtype, shape: tensor.shape });
    return reader.read('t');
  } finally {
    reader.close();
  }
}

describe('safetensors round trip', () => {
  it('reads F32 exactly, with __metadata__ present', () => {
    const data = seededValues(60, 1);
    const file = join(dir, 'f32.safetensors');
    writeSafetensors(file, { a: { dtype: 'F32', shape: [3, 4, 5], data }, scalar: { dtype: 'F32', shape: [], data: Float32Array.of(7) } }, { format: 'pt' });
    const reader = openSafetensors(file);
    expect(reader.names()).toEqual(['a', 'scalar']);
    expect(reader.files).toEqual([file]);
    expect(reader.read('a')).toEqual(data);
    expect(reader.read('scalar')).toEqual(Float32Array.of(7));
    reader.close();
  });

  it('F16: representable values survive exactly, others round to nearest even', () => {
    const exact = Float32Array.of(0, -0, 1, -1.5, 65504, -65504, 2 ** -14, 2 ** -24, 3 * 2 ** -24, 0.333251953125, Infinity, -Infinity);
    expect(roundTrip('f16-exact.safetensors', { dtype: 'F16', shape: [exact.length], data: exact })).toEqual(exact);
    // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties to even (1); 1 + 3 * 2^-11 ties up to 1 + 2^-9.
    // 2^-25 is halfway between 0 and the smallest subnormal: ties to 0. 70000 overflows to infinity.
    const rounded = roundTrip('f16-round.safetensors', { dtype: 'F16', shape: [4], data: Float32Array.of(1 + 2 ** -11, 1 + 3 * 2 ** -11, 2 ** -25, 70000) });
    expect(Array.from(rounded)).toEqual([1, 1 + 2 ** -9, 0, Infinity]);
    expect(roundTrip('f16-nan.safetensors', { dtype: 'F16', shape: [1], data: Float32Array.of(NaN) })[0]).toBeNaN();
  });

  it('F16: random values are within half precision and tensors larger than one conversion chunk read whole', () => {
    const data = seededValues(8 * 1024 * 1024 + 3, 2, 100); // 16 MiB of F16 + 3 elements: crosses a chunk
    const read = roundTrip('f16-big.safetensors', { dtype: 'F16', shape: [data.length], data });
    let worst = 0;
    for (let i = 0; i < data.length; i++) worst = Math.max(worst, Math.abs(read[i] - data[i]) / Math.max(Math.abs(data[i]), 2 ** -14));
    expect(worst).toBeLessThanOrEqual(2 ** -11);
    expect(read[data.length - 1]).toBeCloseTo(data[data.length - 1], 1);
  });

  it('BF16: representable values survive exactly, others round to nearest even', () => {
    const exact = Float32Array.of(0, 1, -2.5, 1.5 * 2 ** 127, -1.5 * 2 ** -126, 2 ** -133, 1 + 2 ** -7, Infinity);
    expect(roundTrip('bf16-exact.safetensors', { dtype: 'BF16', shape: [2, 4], data: exact })).toEqual(exact);
    const rounded = roundTrip('bf16-round.safetensors', { dtype: 'BF16', shape: [3], data: Float32Array.of(1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -8 + 2 ** -20) });
    expect(Array.from(rounded)).toEqual([1, 1 + 2 ** -6, 1 + 2 ** -7]);
    const data = seededValues(1000, 3, 10);
    const read = roundTrip('bf16-random.safetensors', { dtype: 'BF16', shape: [1000], data });
    data.forEach((value, i) => expect(Math.abs(read[i] - value)).toBeLessThanOrEqual(Math.abs(value) * 2 ** -8));
  });

  it('sharded read equals single-file read', () => {
    const tensors: Record<string, WriterTensor> = {};
    for (let i = 0; i < 7; i++) tensors[`layer.${i}.weight`] = { dtype: i % 2 ? 'BF16' : 'F32', shape: [i + 1, 3], data: seededValues((i + 1) * 3, 10 + i) };
    const single = join(dir, 'single.safetensors');
    writeSafetensors(single, tensors);
    const shardDir = mkdtempSync(join(dir, 'sharded-'));
    const shardFiles = writeShardedSafetensors(shardDir, tensors, 3);
    const one = openSafetensors(single);
    const sharded = openShardedSafetensors(join(shardDir, 'model.safetensors.index.json'));
    expect(sharded.files.sort()).toEqual(shardFiles.sort());
    expect(sharded.names().sort()).toEqual(one.names().sort());
    for (const name of one.names()) {
      expect(sharded.info(name)).toEqual(one.info(name));
      expect(sharded.read(name)).toEqual(one.read(name));
    }
    one.close();
    sharded.close();
  });

  it('asking for an absent tensor is a bad_argument naming it', async () => {
    const file = join(dir, 'absent.safetensors');
    writeSafetensors(file, { a: { dtype: 'F32', shape: [1], data: Float32Array.of(1) } });
    const reader = openSafetensors(file);
    await expectEngineError(() => reader.read('nope'), 'bad_argument', 'nope', 'absent.safetensors');
    reader.close();
  });
});

/** A hand-made file: u64 header length, header text, `dataBytes` zero bytes. */
function craft(name: string, header: unknown, dataBytes = 0, declaredLength?: bigint): string {
  const text = typeof header === 'string' ? header : JSON.stringify(header);
  const headerBytes = Buffer.from(text, 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(declaredLength ?? BigInt(headerBytes.byteLength));
  const file = join(dir, name);
  writeFileSync(file, Buffer.concat([prefix, headerBytes, Buffer.alloc(dataBytes)]));
  return file;
}

const f32 = (shape: number[], begin: number, end: number) => ({ dtype: 'F32', shape, data_offsets: [begin, end] });

describe('safetensors rejects malformed files with bad_model_file naming the file', () => {
  it('a missing file is not_found', async () => {
    await expectEngineError(() => openSafetensors(join(dir, 'gone.safetensors')), 'not_found', 'gone.safetensors');
  });

  it('file shorter than 8 bytes', async () => {
    const file = join(dir, 'tiny.safetensors');
    writeFileSync(file, Buffer.from([1, 2, 3]));
    await expectEngineError(() => openSafetensors(file), 'bad_model_file', 'tiny.safetensors', 'too short');
  });

  it('header length beyond the file size', async () => {
    const file = craft('long-header.safetensors', '{}', 0, 1000n);
    await expectEngineError(() => openSafetensors(file), 'bad_model_file', 'long-header.safetensors', 'exceeds the file size');
  });

  it('absurd header length (> 100 MB)', async () => {
    const file = craft('absurd-header.safetensors', '{}', 0, 1n << 40n);
    await expectEngineError(() => openSafetensors(file), 'bad_model_file', 'absurd-header.safetensors', 'limit');
  });

  it('header that is not JSON, or not an object', async () => {
    await expectEngineError(() => openSafetensors(craft('not-json.safetensors', '{"a": ')), 'bad_model_file', 'not-json.safetensors', 'not valid JSON');
    await expectEngineError(() => openSafetensors(craft('array.safetensors', [1, 2])), 'bad_model_file', 'array.safetensors', 'not a JSON object');
    await expectEngineError(() => openSafetensors(craft('null.safetensors', 'null')), 'bad_model_file', 'null.safetensors', 'not a JSON object');
  });

  it('entries with missing or invalid dtype, shape or data_offsets', async () => {
    const cases: Array<[string, unknown, string]> = [
      ['no-dtype', { shape: [1], data_offsets: [0, 4] }, 'dtype'],
      ['num-dtype', { dtype: 5, shape: [1], data_offsets: [0, 4] }, 'dtype'],
      ['no-shape', { dtype: 'F32', data_offsets: [0, 4] }, 'shape'],
      ['neg-shape', { dtype: 'F32', shape: [-1], data_offsets: [0, 4] }, 'shape'],
      ['frac-shape', { dtype: 'F32', shape: [1.5], data_offsets: [0, 4] }, 'shape'],
      ['no-offsets', { dtype: 'F32', shape: [1] }, 'data_offsets'],
      ['short-offsets', { dtype: 'F32', shape: [1], data_offsets: [0] }, 'data_offsets'],
      ['str-offsets', { dtype: 'F32', shape: [1], data_offsets: ['0', '4'] }, 'data_offsets'],
      ['not-object', 'F32', 'not an object'],
    ];
    for (const [name, entry, problem] of cases) {
      const file = craft(`${name}.safetensors`, { 'w.weight': entry }, 4);
      await expectEngineError(() => openSafetensors(file), 'bad_model_file', `${name}.safetensors`, 'w.weight', problem);
    }
  });

  it('unknown dtypes name the dtype and the tensor', async () => {
    const i8 = craft('i8.safetensors', { 'ok.weight': f32([1], 0, 4), 'quant.weight': { dtype: 'I8', shape: [4], data_offsets: [4, 8] } }, 8);
    await expectEngineError(() => openSafetensors(i8), 'bad_model_file', 'i8.safetensors', 'I8', 'quant.weight');
    const f64 = craft('f64.safetensors', { 'double.weight': { dtype: 'F64', shape: [1], data_offsets: [0, 8] } }, 8);
    await expectEngineError(() => openSafetensors(f64), 'bad_model_file', 'f64.safetensors', 'F64', 'double.weight');
  });

  it('data_offsets outside the data section', async () => {
    const file = craft('out-of-range.safetensors', { 'w.weight': f32([4], 4, 20) }, 16);
    await expectEngineError(() => openSafetensors(file), 'bad_model_file', 'out-of-range.safetensors', 'w.weight', 'outside');
    const reversed = craft('reversed.safetensors', { 'w.weight': f32([0], 8, 4) }, 16);
    await expectEngineError(() => openSafetensors(reversed), 'bad_model_file', 'reversed.safetensors', 'w.weight', 'outside');
  });

  it('data_offsets whose length does not match the shape', async () => {
    const file = craft('mismatch.safetensors', { 'w.weight': f32([2, 3], 0, 20) }, 24);
    await expectEngineError(() => openSafetensors(file), 'bad_model_file', 'mismatch.safetensors', 'w.weight', '20 bytes', '24');
  });

  it('overlapping tensors', async () => {
    const file = craft('overlap.safetensors', { 'a.weight': f32([4], 0, 16), 'b.weight': f32([4], 8, 24) }, 24);
    await expectEngineError(() => openSafetensors(file), 'bad_model_file', 'overlap.safetensors', 'a.weight', 'b.weight', 'overlap');
  });

  it('a file truncated after opening reads as bad_model_file, not zeros', async () => {
    const file = join(dir, 'shrinks.safetensors');
    writeSafetensors(file, { w: { dtype: 'F32', shape: [64], data: seededValues(64, 4) } });
    const reader = openSafetensors(file);
    writeFileSync(file, Buffer.alloc(16));
    await expectEngineError(() => reader.read('w'), 'bad_model_file', 'shrinks.safetensors', 'end of file');
    reader.close();
  });
});

describe('sharded index problems', () => {
  function shardedFixture(): string {
    const shardDir = mkdtempSync(join(dir, 'index-'));
    const tensors: Record<string, WriterTensor> = {};
    for (let i = 0; i < 4; i++) tensors[`t${i}`] = { dtype: 'F32', shape: [2], data: seededValues(2, i) };
    writeShardedSafetensors(shardDir, tensors, 2);
    return shardDir;
  }

  it('a missing shard file', async () => {
    const shardDir = shardedFixture();
    unlinkSync(join(shardDir, 'model-00002-of-00002.safetensors'));
    await expectEngineError(() => openShardedSafetensors(join(shardDir, 'model.safetensors.index.json')), 'bad_model_file', 'model-00002-of-00002.safetensors', 'missing');
  });

  it('a tensor the index places in a shard that lacks it', async () => {
    const shardDir = shardedFixture();
    const index = join(shardDir, 'model.safetensors.index.json');
    writeFileSync(index, JSON.stringify({ weight_map: { t0: 'model-00001-of-00002.safetensors', t1: 'model-00001-of-00002.safetensors' } }));
    await expectEngineError(() => openShardedSafetensors(index), 'bad_model_file', 'model.safetensors.index.json', 't1', 'model-00001-of-00002.safetensors');
  });

  it('an index that is not JSON, lacks weight_map, or points outside its folder', async () => {
    const shardDir = shardedFixture();
    const index = join(shardDir, 'model.safetensors.index.json');
    writeFileSync(index, '{"weight_map": {');
    await expectEngineError(() => openShardedSafetensors(index), 'bad_model_file', 'model.safetensors.index.json', 'not valid JSON');
    writeFileSync(index, JSON.stringify({ metadata: {} }));
    await expectEngineError(() => openShardedSafetensors(index), 'bad_model_file', 'model.safetensors.index.json', 'weight_map');
    writeFileSync(index, JSON.stringify({ weight_map: { t0: '../elsewhere.safetensors' } }));
    await expectEngineError(() => openShardedSafetensors(index), 'bad_model_file', 'model.safetensors.index.json', 'outside');
  });
});

describe('reading rows', () => {
  it('any run of rows equals the same rows of the whole tensor, for F32, F16 and BF16', () => {
    const data = seededValues(7 * 3 * 5, 9);
    const file = join(dir, 'rows.safetensors');
    writeSafetensors(file, {
      f32: { dtype: 'F32', shape: [7, 3, 5], data },
      f16: { dtype: 'F16', shape: [7, 15], data },
      bf16: { dtype: 'BF16', shape: [7, 15], data },
    });
    const reader = openSafetensors(file);
    for (const name of ['f32', 'f16', 'bf16']) {
      const whole = reader.read(name);
      expect(reader.readRows(name, 2, 3), name).toEqual(whole.subarray(2 * 15, 5 * 15));
      expect(reader.readRows(name, 6, 1), name).toEqual(whole.subarray(6 * 15));
      expect(reader.readRows(name, 7, 0), name).toEqual(new Float32Array(0));
    }
    reader.close();
  });

  it('refuses rows outside the tensor', async () => {
    const file = join(dir, 'rows-range.safetensors');
    writeSafetensors(file, { w: { dtype: 'F32', shape: [4, 2], data: seededValues(8, 1) } });
    const reader = openSafetensors(file);
    await expectEngineError(() => reader.readRows('w', 3, 2), 'bad_argument', 'rows [3, 5)', 'its 4 rows', '"w"');
    reader.close();
  });

  it('reads rows past 4 GiB of a > 4 GiB tensor in a sparse file without allocating it', async () => {
    // 65600 rows of 64 KiB of F32: 4.3 GB of tensor, of which only the last row is ever written.
    const [rows, cols] = [65_600, 16_384];
    const header = new TextEncoder().encode(JSON.stringify({ big: { dtype: 'F32', shape: [rows, cols], data_offsets: [0, rows * cols * 4] } }));
    const file = join(dir, 'sparse-big.safetensors');
    const fd = openSync(file, 'w');
    try {
      const length = new Uint8Array(8);
      new DataView(length.buffer).setBigUint64(0, BigInt(header.length), true);
      writeSync(fd, length, 0, 8, 0);
      writeSync(fd, header, 0, header.length, 8);
      ftruncateSync(fd, 8 + header.length + rows * cols * 4); // a hole: no disk blocks, no memory
      const last = seededValues(cols, 3);
      writeSync(fd, new Uint8Array(last.buffer), 0, last.byteLength, 8 + header.length + (rows - 1) * cols * 4);
      const reader = openSafetensors(file);
      try {
        expect(reader.info('big').shape).toEqual([rows, cols]);
        const tail = reader.readRows('big', rows - 2, 2); // starts at byte 4.3e9, beyond 2^32
        expect(tail.subarray(0, cols).every((v) => v === 0)).toBe(true);
        expect(tail.subarray(cols)).toEqual(last);
        await expectEngineError(() => reader.read('big'), 'bad_argument', 'more than one array can hold', 'read fewer rows');
      } finally {
        reader.close();
      }
    } finally {
      closeSync(fd);
      unlinkSync(file);
    }
  });
});
