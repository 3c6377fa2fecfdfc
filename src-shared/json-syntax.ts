/**
 * JSON.parse that says where the text is broken: line and column, which JSON.parse does
 * not always give (Node 20 and some Chromium messages give none, others an offset or a
 * snippet). Shared by the engine (experiment files, plans, the CLI's JSON flags) and the
 * renderer's JSON editor.
 */

export type JsonParse = { ok: true; value: unknown } | { ok: false; line: number; column: number; reason: string; message: string };

/** The value, or where and why the text is not JSON; message is "not valid JSON at line L, column C: reason". */
export function parseJson(text: string): JsonParse {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    const offset = firstErrorOffset(text);
    const { line, column } = lineAndColumn(text, offset);
    const reason = contentFreeReason((error as Error).message);
    return { ok: false, line, column, reason, message: `not valid JSON at line ${line}, column ${column}: ${reason}` };
  }
}

/**
 * V8's reason without the text it quotes: it appends a position or a snippet (which may
 * span lines, and may be a secret: the file need not be JSON at all), and names the
 * offending token; line and column replace all three.
 */
function contentFreeReason(message: string): string {
  const reason = message
    .replace(/ (in JSON )?at position \d+.*$/s, '')
    .replace(/,? ?".*$/s, '')
    .replace(/^Unexpected token .*$/s, 'Unexpected character')
    .trim();
  return reason === '' ? 'Unexpected character' : reason;
}

function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const lastBreak = before.lastIndexOf('\n');
  return { line: before.split('\n').length, column: offset - lastBreak };
}

class At {
  constructor(readonly offset: number) {}
}

const WHITESPACE = /[ \t\n\r]*/y;
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const LITERAL = /true|false|null/y;

/**
 * Offset of the first character that makes `text` invalid JSON (text.length when it ends
 * too early). Only called after JSON.parse failed. Iterative, with an explicit stack, so
 * deeply nested input cannot overflow the call stack.
 */
function firstErrorOffset(text: string): number {
  const containers: string[] = [];
  let i = 0;
  let state: 'value' | 'valueOrClose' | 'key' | 'keyOrClose' | 'afterValue' = 'value';
  const match = (pattern: RegExp): boolean => {
    pattern.lastIndex = i;
    if (!pattern.test(text)) return false;
    i = pattern.lastIndex;
    return true;
  };
  try {
    for (;;) {
      match(WHITESPACE);
      if (i >= text.length) return i;
      const c = text[i];
      if (state === 'afterValue') {
        const open = containers[containers.length - 1];
        if (open === undefined) return i; // text after the top-level value
        if (c === ',') state = open === '{' ? 'key' : 'value';
        else if (c === (open === '{' ? '}' : ']')) containers.pop();
        else return i;
        i++;
      } else if (state === 'key' || state === 'keyOrClose') {
        if (c === '}' && state === 'keyOrClose') {
          containers.pop();
          i++;
          state = 'afterValue';
          continue;
        }
        if (c !== '"') return i;
        i = stringEnd(text, i);
        match(WHITESPACE);
        if (text[i] !== ':') return i;
        i++;
        state = 'value';
      } else if (c === ']' && state === 'valueOrClose') {
        containers.pop();
        i++;
        state = 'afterValue';
      } else if (c === '{' || c === '[') {
        containers.push(c);
        i++;
        state = c === '{' ? 'keyOrClose' : 'valueOrClose';
      } else {
        if (c === '"') i = stringEnd(text, i);
        else if (!match(NUMBER) && !match(LITERAL)) return i;
        state = 'afterValue';
      }
    }
  } catch (error) {
    if (error instanceof At) return error.offset;
    throw error;
  }
}

/** Offset just past the string starting at `start`; throws At on a bad character or escape. */
function stringEnd(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 0x22) return i + 1; // closing quote
    if (c < 0x20) throw new At(i); // control characters must be escaped
    if (c === 0x5c) {
      const next = text[i + 1];
      if (next === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) i += 6;
      else if (next !== undefined && '"\\/bfnrt'.includes(next)) i += 2;
      else throw new At(i);
    } else i++;
  }
  throw new At(text.length);
}
