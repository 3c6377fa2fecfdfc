import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectEngineError } from '../../test/expect-engine-error';
import { sharedPath } from '../../test/shared-paths';
import { weightsFingerprint } from './fingerprint';

const MiB = 1024 * 1024;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tiller-fingerprint-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** An 8 MiB file with byte i = i mod 251, optionally with one byte flipped. */
function largeFile(name: string, flipAt?: number): string {
  const bytes = Buffer.alloc(8 * MiB);
  for (let i = 0; i < bytes.length; i++) bytes[i] = i % 251;
  if (flipAt !== undefined) bytes[flipAt] ^= 0xff;
  const file = join(dir, name);
  writeFileSync(file, bytes);
  return file;
}

describe('weightsFingerprint', () => {
  it('is a stable sha256 hex of the real checkpoint', () => {
    const files = [sharedPath('models', 'stories260K', 'stories260K.bin')];
    const first = weightsFingerprint(files);
    expect(first).toMatch(/^[0-9a-f]{64}$/);
    expect(weightsFingerprint(files)).toBe(first);
  });

  it('changes when a byte in a sampled region changes', () => {
    const base = weightsFingerprint([largeFile('base.bin')]);
    expect(weightsFingerprint([largeFile('base.bin')])).toBe(base);
    // First MiB, last MiB, and the first middle sample (which starts right after the first MiB).
    for (const [label, offset] of [['head', 1234], ['tail', 8 * MiB - 1], ['sample', MiB + 10]] as const) {
      expect(weightsFingerprint([largeFile('base.bin', offset)]), label).not.toBe(base);
    }
  });

  it('is sampled: a byte between samples of a large file does not change it', () => {
    const base = weightsFingerprint([largeFile('base.bin')]);
    // Samples are ~194 KiB apart and 64 KiB long, so 100 KiB past a sample start is unsampled.
    expect(weightsFingerprint([largeFile('base.bin', MiB + 100 * 1024)])).toBe(base);
  });

  it('depends on names, sizes and file order, and hashes small files in full', () => {
    const a = join(dir, 'a.bin');
    const b = join(dir, 'b.bin');
    writeFileSync(a, Buffer.from('weights'));
    writeFileSync(b, Buffer.from('weights'));
    expect(weightsFingerprint([a])).not.toBe(weightsFingerprint([b]));
    expect(weightsFingerprint([a, b])).not.toBe(weightsFingerprint([b, a]));
    const before = weightsFingerprint([a]);
    writeFileSync(a, Buffer.from('weightz'));
    expect(weightsFingerprint([a])).not.toBe(before);
  });

  it('a missing file is not_found', async () => {
    await expectEngineError(() => weightsFingerprint([join(dir, 'gone.bin')]), 'not_found', 'gone.bin');
  });
});
