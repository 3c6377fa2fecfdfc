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
  const byId = /^#(\d+)$/.exec(text);
  if (byId) {
    const id = Number(byId[1]);
    if (id >= tokenizer.vocabSize) throw new EngineError('bad_argument', `${what} ${text} is outside the vocabulary (0..${tokenizer.vocabSize - 1})`);
    return id;
  }
  const spellings = [text, ...(text.startsWith(' ') ? WORD_START_MARKERS.map((marker) => marker + text.slice(1)) : [])];
  for (let id = 0; id < tokenizer.vocabSize; id++) if (spellings.includes(tokenizer.tokenText(id))) return id;
  const ids = tokenizer.encode(text, { addSpecialTokens: false });
  if (ids.length === 1) return ids[0];
  const pieces = ids.map((id) => `${JSON.stringify(tokenizer.tokenText(id))} (#${id})`).join(', ');
  throw new EngineError('bad_argument', `${what} ${JSON.stringify(text)} is not one token (it encodes to ${ids.length}${ids.length ? `: ${pieces}` : ''}); give a vocabulary entry, or an id as #123`);
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
