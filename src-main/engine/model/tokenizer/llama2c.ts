/**
 * llama2.c `tokenizer.bin` files (e.g. tok512.bin), encoded and decoded exactly as
 * `encode()` / `decode()` in llama2.c's run.c do: a SentencePiece BPE vocabulary with
 * scores, byte fallback through the `<0xNN>` pieces, no normalisation.
 */
import { readFileSync } from 'node:fs';
import { EngineError } from '../../errors';
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

// ---------------------------------------------------------------------------
// File reading: int32 max_token_length, then per token f32 score, int32 length, bytes.

function readVocab(file: string, expectedSize: number | undefined): Llama2cVocab {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    throw new EngineError('bad_tokenizer', `cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`, { file });
  }
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
  return { pieces, scores: Float32Array.from(scores) };
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
      throw new EngineError('bad_argument', `special token id ${id} is outside ${file}'s vocabulary of ${vocabSize}`);
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
    // Merge the adjacent pair whose concatenation is the highest-scoring piece; ties go
    // to the leftmost pair (run.c's strict >). Quadratic, like run.c.
    for (;;) {
      let bestScore = -1e10;
      let bestId = -1;
      let bestIndex = -1;
      for (let i = 0; i + 1 < tokens.length; i++) {
        const id = idOfKey.get(keys[tokens[i]] + keys[tokens[i + 1]]);
        if (id !== undefined && scores[id] > bestScore) {
          bestScore = scores[id];
          bestId = id;
          bestIndex = i;
        }
      }
      if (bestIndex === -1) return tokens;
      tokens.splice(bestIndex, 2, bestId);
    }
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
