import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { expectEngineError } from '../../../test/expect-engine-error';
import { sharedPath } from '../../../test/shared-paths';
import { loadHfTokenizer } from './hf';
import { loadLlama2cTokenizer, mergePairs } from './llama2c';
import type { TextTokenizer } from './types';

const TOK512 = sharedPath('models', 'stories260K', 'tok512.bin');
const SPECIALS = { bosTokenId: 1, eosTokenIds: [2] };

// TinyStories-like text with punctuation, digits, an emoji (byte fallback), accented and
// CJK characters. No spaces next to newlines: there SentencePiece's normaliser and run.c
// differ (models/README.md).
const SENTENCES = [
  'Once upon a time',
  'Once upon a time, there was a little girl named Lily.',
  'Tom had 3 red balls and 12 blue ones!',
  'The café was full of happy people.',
  'She smiled 🙂 and said, "Thank you, Mom."',
  "Why? Because the dog's ball was lost: it rolled away...",
  'Ben—a small boy—ran to the naïve cat.',
  'A\nB',
  '日本 €5',
  'x',
];

let llama2c: TextTokenizer;
let hf: TextTokenizer;
beforeAll(() => {
  llama2c = loadLlama2cTokenizer(TOK512, SPECIALS);
  hf = loadHfTokenizer(sharedPath('models', 'stories260K-hf'));
});

const tempDirs: string[] = [];
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

describe('encode', () => {
  it('encodes like run.c', () => {
    expect(llama2c.encode('Once upon a time')).toEqual([1, 403, 407, 261, 378]);
    expect(llama2c.encode('Once upon a time', { addSpecialTokens: false })).toEqual([403, 407, 261, 378]);
    // run.c adds the dummy prefix only to non-empty text.
    expect(llama2c.encode('')).toEqual([1]);
    expect(llama2c.encode('', { addSpecialTokens: false })).toEqual([]);
  });

  it('falls back to <0xNN> byte tokens (id = byte + 3) for codepoints without a piece', () => {
    // 🙂 is F0 9F 99 82 in UTF-8; 410 is the dummy-prefix piece " ".
    expect(llama2c.encode('🙂', { addSpecialTokens: false })).toEqual([410, 0xf0 + 3, 0x9f + 3, 0x99 + 3, 0x82 + 3]);
  });

  it.each(SENTENCES)('matches the Hugging Face tokenizer of the same model: %j', (text) => {
    expect(llama2c.encode(text)).toEqual(hf.encode(text));
  });
});

/** run.c's merge loop as written there: rescan every pair after each merge (quadratic). */
function mergeLikeRunC(initial: number[], merged: (left: number, right: number) => number | undefined, scores: Float32Array): number[] {
  const tokens = [...initial];
  for (;;) {
    let bestScore = -1e10;
    let bestId = -1;
    let bestIndex = -1;
    for (let i = 0; i + 1 < tokens.length; i++) {
      const id = merged(tokens[i], tokens[i + 1]);
      if (id !== undefined && scores[id] > bestScore) {
        bestScore = scores[id];
        bestId = id;
        bestIndex = i;
      }
    }
    if (bestIndex === -1) return tokens;
    tokens.splice(bestIndex, 2, bestId);
  }
}

// Issue 11 item 4: run.c's loop is quadratic, and 20,000 characters blocked the server for seconds.
describe('merging in O(n log n)', () => {
  it('merges exactly like run.c, ties included, on random sequences', () => {
    // A toy vocabulary over 4 symbols where every pair of adjacent ids merges into a
    // deterministic id with a score that often ties, so the leftmost rule matters.
    let seed = 12345;
    const random = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const scores = Float32Array.from({ length: 64 }, (_, id) => Math.floor((id * 7) % 5));
    const merged = (left: number, right: number): number | undefined => ((left + 2 * right) % 3 === 0 ? undefined : (left * 5 + right * 3 + 4) % 64);
    for (let trial = 0; trial < 300; trial++) {
      const input = Array.from({ length: 1 + Math.floor(random() * 40) }, () => Math.floor(random() * 64));
      expect(mergePairs(input, merged, scores)).toEqual(mergeLikeRunC(input, merged, scores));
    }
  });

  it('encodes long text the same as in pieces of it', () => {
    const text = SENTENCES.join(' ').repeat(400); // ~100,000 characters
    expect(text.length).toBeGreaterThan(90_000);
    const ids = llama2c.encode(text, { addSpecialTokens: false });
    expect(llama2c.decode(ids)).toBe(` ${text}`);
  });
});

describe('decode', () => {
  it.each(SENTENCES)('round-trips %j', (text) => {
    expect(llama2c.decode(llama2c.encode(text), { skipSpecialTokens: true })).toBe(text);
  });

  it('prints special pieces as stored, and keeps the dummy prefix when no BOS precedes it', () => {
    // The llama2.c export stores BOS as "\n<s>\n"; the space after it is stripped as in run.c.
    expect(llama2c.decode([1, 403, 407])).toBe('\n<s>\nOnce upon');
    expect(llama2c.decode([403, 407])).toBe(' Once upon');
  });

  it('joins multi-byte characters split across byte tokens', () => {
    expect(llama2c.decode([0xf0 + 3, 0x9f + 3, 0x99 + 3, 0x82 + 3])).toBe('🙂');
    expect(llama2c.decode([])).toBe('');
  });

  it('decodes the golden greedy continuation of stories260K', () => {
    const golden = z
      .object({ greedy_from_bos_200: z.array(z.number().int()) })
      .parse(JSON.parse(readFileSync(sharedPath('golden', 'stories260k.json'), 'utf8')));
    const text = llama2c.decode(golden.greedy_from_bos_200, { skipSpecialTokens: true });
    expect(text.startsWith('Once upon a time, there was a little girl named Lily. She loved to play outside')).toBe(true);
    expect(llama2c.decode(golden.greedy_from_bos_200)).toMatch(/^\n<s>\nOnce upon a time, there was/);
  });
});

describe('vocabulary', () => {
  it('reads the 512 pieces, their specials and no chat template', async () => {
    expect(llama2c.vocabSize).toBe(512);
    expect(llama2c.bosTokenId).toBe(1);
    expect(llama2c.eosTokenIds).toEqual([2]);
    expect([...llama2c.specialTokenIds].sort((a, b) => a - b)).toEqual([0, 1, 2]);
    expect(llama2c.tokenText(403)).toBe(' Once');
    expect(llama2c.tokenText(13)).toBe('<0x0A>');
    await expectEngineError(() => llama2c.tokenText(512), 'bad_argument', '512');
    expect(llama2c.chatTemplate).toBeNull();
    await expectEngineError(() => llama2c.applyChatTemplate([{ role: 'user', content: 'Hi' }]), 'bad_argument', 'this model has no chat template');
  });

  it('checks the token count when the checkpoint gives one', async () => {
    expect(loadLlama2cTokenizer(TOK512, { ...SPECIALS, vocabSize: 512 }).vocabSize).toBe(512);
    await expectEngineError(() => loadLlama2cTokenizer(TOK512, { ...SPECIALS, vocabSize: 511 }), 'bad_tokenizer', 'bytes left');
    await expectEngineError(() => loadLlama2cTokenizer(TOK512, { ...SPECIALS, vocabSize: 513 }), 'bad_tokenizer', 'token 512');
  });

  it('rejects special ids outside the vocabulary as a tokenizer that does not fit the model', async () => {
    await expectEngineError(() => loadLlama2cTokenizer(TOK512, { bosTokenId: 512, eosTokenIds: [] }), 'bad_tokenizer', '512');
  });
});

describe('bad files', () => {
  function writeTemp(bytes: Uint8Array): string {
    const dir = mkdtempSync(join(tmpdir(), 'tiller-tok512-'));
    tempDirs.push(dir);
    const file = join(dir, 'tok512.bin');
    writeFileSync(file, bytes);
    return file;
  }

  it('names the file and the token of a truncated tokenizer', async () => {
    const original = readFileSync(TOK512);
    const file = writeTemp(original.subarray(0, original.length - 3));
    await expectEngineError(() => loadLlama2cTokenizer(file, SPECIALS), 'bad_tokenizer', file, 'token 511');
  });

  it('rejects a corrupt piece length and a missing file', async () => {
    const corrupt = Buffer.from(readFileSync(TOK512));
    corrupt.writeInt32LE(1_000_000, 4 + 4); // the length field of token 0
    await expectEngineError(() => loadLlama2cTokenizer(writeTemp(corrupt), SPECIALS), 'bad_tokenizer', 'token 0 has length 1000000');
    await expectEngineError(() => loadLlama2cTokenizer(join(tmpdir(), 'no-such-tok512.bin'), SPECIALS), 'bad_tokenizer', 'no-such-tok512.bin');
  });

  // Issue 11 item 5: a file of no tokens was reported as a bad argument.
  it('rejects a tokenizer with no tokens', async () => {
    const empty = Buffer.alloc(4);
    empty.writeInt32LE(16, 0); // max_token_length, then nothing
    await expectEngineError(() => loadLlama2cTokenizer(writeTemp(empty), SPECIALS), 'bad_tokenizer', 'holds no tokens');
  });

  // Issue 11 item 2: /dev/zero and a folder were read as files (the first without end).
  it('refuses a path that is not a regular file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tiller-tok-dir-'));
    tempDirs.push(dir);
    await expectEngineError(() => loadLlama2cTokenizer(dir, SPECIALS), 'bad_tokenizer', 'is a folder, not a regular file');
    if (process.platform !== 'win32') await expectEngineError(() => loadLlama2cTokenizer('/dev/zero', SPECIALS), 'bad_tokenizer', 'is a device, not a regular file');
  });
});
