/**
 * Answer and target tokens given as text (CLI flags, app fields). Analyses work on single
 * tokens, so a text must name exactly one: a vocabulary entry as written ("," or "▁dog"),
 * or with its leading space in the tokenizer's word-start marker (" dog" -> "▁dog" in
 * SentencePiece, "Ġdog" in byte-level BPE), or a text that encodes to one token.
 * `#123` names an id directly.
 */
import { EngineError } from '../errors';
import type { TextTokenizer } from '../model/tokenizer/types';

const WORD_START_MARKERS = ['▁', 'Ġ'];

export function tokenFromText(tokenizer: TextTokenizer, text: string, what: string): number {
  const { id, ids } = readToken(tokenizer, text, what);
  if (id !== null) return id;
  throw new EngineError('bad_argument', `${what} ${JSON.stringify(text)} is not one token (it encodes to ${ids.length}${ids.length ? `: ${pieces(tokenizer, ids)}` : ''}); give a vocabulary entry, or an id as #123`);
}

/**
 * An answer of internal consistency's set Y: like tokenFromText, but a text of several
 * tokens stands for its first (the first-token convention, METHODS.md 4), with a warning
 * saying so, since it then also counts for every other word starting with that token.
 */
export function answerTokenFromText(tokenizer: TextTokenizer, text: string, what: string): { id: number; warning: string | null } {
  const { id, ids } = readToken(tokenizer, text, what);
  if (id !== null) return { id, warning: null };
  if (ids.length === 0) throw new EngineError('bad_argument', `${what} ${JSON.stringify(text)} encodes to no token`);
  return { id: ids[0], warning: `${what} ${JSON.stringify(text)} is ${ids.length} tokens (${pieces(tokenizer, ids)}): its first token stands for it (first-token convention)` };
}

/** The one token a text names (null when it is not one), and what it encodes to. */
function readToken(tokenizer: TextTokenizer, text: string, what: string): { id: number | null; ids: number[] } {
  const byId = /^#(\d+)$/.exec(text);
  if (byId) {
    const id = Number(byId[1]);
    if (id >= tokenizer.vocabSize) throw new EngineError('bad_argument', `${what} ${text} is outside the vocabulary (0..${tokenizer.vocabSize - 1})`);
    return { id, ids: [id] };
  }
  const spellings = [text, ...(text.startsWith(' ') ? WORD_START_MARKERS.map((marker) => marker + text.slice(1)) : [])];
  for (let id = 0; id < tokenizer.vocabSize; id++) if (spellings.includes(tokenizer.tokenText(id))) return { id, ids: [id] };
  const ids = tokenizer.encode(text, { addSpecialTokens: false });
  return { id: ids.length === 1 ? ids[0] : null, ids };
}

const pieces = (tokenizer: TextTokenizer, ids: number[]): string => ids.map((id) => `${JSON.stringify(tokenizer.tokenText(id))} (#${id})`).join(', ');

/** A token's text as written: the word-start marker as the space it stands for. */
export function spokenText(tokenizer: TextTokenizer, id: number): string {
  const text = tokenizer.tokenText(id);
  const marker = WORD_START_MARKERS.find((m) => text.startsWith(m));
  return marker ? ` ${text.slice(marker.length)}` : text;
}

/**
 * Where `subject` lies in `ids`: positions [start, end) of its tokens, tokenized alone
 * as written and with a leading space (a word inside a sentence usually carries one).
 * The first match wins.
 */
export function findSubject(tokenizer: TextTokenizer, ids: readonly number[], subject: string): { start: number; end: number } {
  const spellings = [subject, ` ${subject.trimStart()}`].map((text) => tokenizer.encode(text, { addSpecialTokens: false })).filter((list) => list.length > 0);
  for (const tokens of spellings) {
    for (let start = 0; start + tokens.length <= ids.length; start++) {
      if (tokens.every((id, i) => ids[start + i] === id)) return { start, end: start + tokens.length };
    }
  }
  const prompt = ids.map((id) => JSON.stringify(tokenizer.tokenText(id))).join(' ');
  throw new EngineError('bad_argument', `the subject ${JSON.stringify(subject)} is not a run of the prompt's tokens (${prompt}); give the subject as it is tokenized there, or its positions`);
}
