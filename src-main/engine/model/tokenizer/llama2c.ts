/**
 * llama2.c `tokenizer.bin` files (e.g. tok512.bin), encoded and decoded exactly as
 * `encode()` / `decode()` in llama2.c's run.c do: a SentencePiece BPE vocabulary with
 * scores, byte fallback through the `<0xNN>` pieces, no normalisation.
 */
import { EngineError } from '../../errors';
import { readRegularFile } from '../file-io';
import type { TextTokenizer } from './types';

export interface Llama2cTokenizerOptions {
  bosTokenId: number | null;
  eosTokenIds: number[];
  /** When given, the file must hold exactly this many tokens (the checkpoint's vocab_size). */
  vocabSize?: number;
}

/** The file's contents, as run.c's build_tokenizer() reads them. */
interface Llama2cVocab {
  pieces: Uint8Array[]; // (vocab) raw UTF-8 bytes of each piece; " " where SentencePiece has "▁"
  scores: Float32Array; // (vocab) merge priority: higher merges first
}

/** Far above any real vocabulary (a 256k-token one is a few MB). */
const MAX_TOKENIZER_BYTES = 256 * 1024 * 1024;

// ---------------------------------------------------------------------------
// File reading: int32 max_token_length, then per token f32 score, int32 length, bytes.

function readVocab(file: string, expectedSize: number | undefined): Llama2cVocab {
  const bytes = readRegularFile(file, 'tokenizer', 'bad_tokenizer', MAX_TOKENIZER_BYTES, 'bad_tokenizer');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const corrupt = (what: string, token?: number): EngineError =>
    new EngineError('bad_tokenizer', `${file} is corrupt: ${what}`, { file, token });

  if (bytes.byteLength < 4) throw corrupt('shorter than its 4-byte header');
  const maxTokenLength = view.getInt32(0, true);
  if (maxTokenLength <= 0) throw corrupt(`max_token_length is ${maxTokenLength}`);

  const pieces: Uint8Array[] = [];
  const scores: number[] = [];
  let offset = 4;
  while (expectedSize === undefined ? offset < bytes.byteLength : pieces.length < expectedSize) {
    const index = pieces.length;
    if (offset + 8 > bytes.byteLength) throw corrupt(`file ends inside the header of token ${index}`, index);
    const score = view.getFloat32(offset, true);
    const length = view.getInt32(offset + 4, true);
    offset += 8;
    // run.c sizes its merge buffer from max_token_length, so a longer piece is corruption.
    if (length < 0 || length > maxTokenLength) {
      throw corrupt(`token ${index} has length ${length} (max_token_length ${maxTokenLength})`, index);
    }
    if (offset + length > bytes.byteLength) throw corrupt(`file ends inside token ${index}`, index);
    pieces.push(bytes.subarray(offset, offset + length));
    scores.push(score);
    offset += length;
  }
  if (offset !== bytes.byteLength) {
    throw corrupt(`${bytes.byteLength - offset} bytes left after the expected ${expectedSize} tokens`);
  }
  if (pieces.length === 0) throw corrupt('it holds no tokens');
  return { pieces, scores: Float32Array.from(scores) };
}

/**
 * run.c's merge loop: while some adjacent pair concatenates to a piece, merge the pair
 * whose piece scores highest, the leftmost one on a tie (run.c's strict >). run.c rescans
 * the whole sequence after each merge, which is quadratic (20,000 characters blocked the
 * server for seconds); this keeps the candidate pairs in a heap ordered by (score, then
 * position) and the tokens in a linked list, so each merge costs O(log n). A heap entry
 * whose tokens have changed since it was pushed is stale and skipped.
 */
export function mergePairs(initial: readonly number[], merged: (left: number, right: number) => number | undefined, scores: Float32Array): number[] {
  const n = initial.length;
  const token = Int32Array.from(initial);
  const next = new Int32Array(n).map((_, i) => (i + 1 < n ? i + 1 : -1));
  const prev = new Int32Array(n).map((_, i) => i - 1);
  const version = new Int32Array(n); // bumped when a node's token changes or it is merged away
  const alive = new Uint8Array(n).fill(1);
  const heap = new PairHeap();
  const push = (left: number): void => {
    const right = next[left];
    if (right === -1) return;
    const id = merged(token[left], token[right]);
    // run.c starts its search at best_score = -1e10, so a piece scored that low never merges.
    if (id !== undefined && scores[id] > -1e10) heap.push({ score: scores[id], left, right, id, leftVersion: version[left], rightVersion: version[right] });
  };
  for (let i = 0; i + 1 < n; i++) push(i);
  for (let pair = heap.pop(); pair; pair = heap.pop()) {
    const { left, right } = pair;
    if (!alive[left] || !alive[right] || next[left] !== right || version[left] !== pair.leftVersion || version[right] !== pair.rightVersion) continue;
    token[left] = pair.id;
    version[left] += 1;
    alive[right] = 0;
    version[right] += 1;
    next[left] = next[right];
    if (next[right] !== -1) prev[next[right]] = left;
    if (prev[left] !== -1) push(prev[left]);
    push(left);
  }
  const out: number[] = [];
  for (let i = n > 0 ? 0 : -1; i !== -1; i = next[i]) out.push(token[i]);
  return out;
}

interface Pair {
  score: number;
  left: number; // node index; nodes keep their original order, so a smaller index is further left
  right: number;
  id: number;
  leftVersion: number;
  rightVersion: number;
}

/** A binary max-heap of pairs: higher score first, then the leftmost. */
class PairHeap {
  private readonly items: Pair[] = [];

  private before(a: Pair, b: Pair): boolean {
    return a.score > b.score || (a.score === b.score && a.left < b.left);
  }

  push(pair: Pair): void {
    const items = this.items;
    items.push(pair);
    for (let i = items.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (!this.before(items[i], items[parent])) break;
      [items[i], items[parent]] = [items[parent], items[i]];
      i = parent;
    }
  }

  pop(): Pair | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last) {
      items[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let best = i;
        if (l < items.length && this.before(items[l], items[best])) best = l;
        if (r < items.length && this.before(items[r], items[best])) best = r;
        if (best === i) break;
        [items[i], items[best]] = [items[best], items[i]];
        i = best;
      }
    }
    return top;
  }
}

/** A byte string as a JS string of char codes 0..255, so pieces compare byte for byte. */
const byteKey = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');

const hex2 = (byte: number): string => byte.toString(16).toUpperCase().padStart(2, '0');

// ---------------------------------------------------------------------------

export function loadLlama2cTokenizer(file: string, options: Llama2cTokenizerOptions): TextTokenizer {
  const { pieces, scores } = readVocab(file, options.vocabSize);
  const vocabSize = pieces.length;
  const { bosTokenId, eosTokenIds } = options;
  for (const id of [...(bosTokenId === null ? [] : [bosTokenId]), ...eosTokenIds]) {
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
      throw new EngineError('bad_tokenizer', `special token id ${id} is outside ${file}'s vocabulary of ${vocabSize}`, { file });
    }
  }

  // run.c sorts the vocab and bsearches it; with duplicate pieces the lowest id wins here.
  const keys = pieces.map(byteKey);
  const idOfKey = new Map<string, number>();
  keys.forEach((key, id) => {
    if (!idOfKey.has(key)) idOfKey.set(key, id);
  });

  // run.c hard-codes "byte + 3". Looking the pieces up gives the same ids for
  // SentencePiece exports and rejects a vocabulary that has no byte fallback.
  const byteTokenIds: number[] = [];
  const byteOfTokenId = new Map<number, number>();
  for (let byte = 0; byte < 256; byte++) {
    const id = idOfKey.get(`<0x${hex2(byte)}>`);
    if (id === undefined) throw new EngineError('bad_tokenizer', `${file} has no byte-fallback piece <0x${hex2(byte)}>`, { file });
    byteTokenIds.push(id);
    byteOfTokenId.set(id, byte);
  }

  const utf8 = new TextDecoder('utf-8');
  const specialPieces = new Set(['<unk>', '<s>', '</s>']);
  const specialTokenIds = new Set<number>([...(bosTokenId === null ? [] : [bosTokenId]), ...eosTokenIds]);
  // The export wraps BOS/EOS in newlines ("\n<s>\n"), hence the trim.
  pieces.forEach((piece, id) => {
    if (specialPieces.has(utf8.decode(piece).trim())) specialTokenIds.add(id);
  });

  /** run.c encode(): one token per codepoint (or per byte), then greedy best-score merges. */
  const encodeText = (text: string): number[] => {
    const tokens: number[] = [];
    // The dummy prefix: SentencePiece's add_dummy_prefix, which run.c adds as the piece " ".
    const prefixed = text === '' ? '' : ` ${text}`;
    for (const codepoint of prefixed) {
      const key = Buffer.from(codepoint, 'utf8').toString('latin1');
      const id = idOfKey.get(key);
      if (id !== undefined) tokens.push(id);
      else for (let i = 0; i < key.length; i++) tokens.push(byteTokenIds[key.charCodeAt(i)]);
    }
    return mergePairs(tokens, (left, right) => idOfKey.get(keys[left] + keys[right]), scores);
  };

  return {
    vocabSize,
    bosTokenId,
    eosTokenIds,
    specialTokenIds,
    chatTemplate: null,

    tokenText(id) {
      if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
        throw new EngineError('bad_argument', `no token with id ${id} (vocabulary size ${vocabSize})`);
      }
      return utf8.decode(pieces[id]);
    },

    // BOS is prepended after merging: run.c merges over it too, but no piece starts with "\n<s>\n".
    encode(text, { addSpecialTokens = true } = {}) {
      const tokens = encodeText(text);
      return addSpecialTokens && bosTokenId !== null ? [bosTokenId, ...tokens] : tokens;
    },

    /** run.c decode() over the whole sequence, then one UTF-8 decode so split characters rejoin. */
    decode(ids, { skipSpecialTokens = false } = {}) {
      const chunks: Uint8Array[] = [];
      let previous: number | null = null;
      for (const id of ids) {
        // Ids outside the vocabulary decode to nothing, as in the HF tokenizer.
        if (!Number.isInteger(id) || id < 0 || id >= vocabSize) continue;
        if (!(skipSpecialTokens && specialTokenIds.has(id))) {
          const byte = byteOfTokenId.get(id);
          let piece = byte === undefined ? pieces[id] : Uint8Array.of(byte);
          // run.c: "following BOS token, sentencepiece decoder strips any leading whitespace".
          if (bosTokenId !== null && previous === bosTokenId && byte === undefined && piece[0] === 0x20) piece = piece.subarray(1);
          chunks.push(piece);
        }
        previous = id;
      }
      return utf8.decode(Buffer.concat(chunks));
    },

    applyChatTemplate() {
      throw new EngineError('bad_argument', 'this model has no chat template');
    },
  };
}
