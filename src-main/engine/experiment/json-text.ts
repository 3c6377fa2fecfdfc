/**
 * JSON text of experiment files: parsing that reports where the text is broken (line and
 * column, which Node 20's JSON.parse does not always give), and the writer's layout.
 */
import { EngineError } from '../errors';

/** JSON.parse, or EngineError('bad_experiment') "<file>: not valid JSON at line L, column C: ...". */
export function parseJsonText(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const offset = firstErrorOffset(text);
    const { line, column } = lineAndColumn(text, offset);
    // V8 appends a position or a snippet of the text (which may span lines); line and column replace both.
    const reason = (error as Error).message.replace(/ in JSON at position \d+.*$|, ".*" is not valid JSON$/s, '');
    throw new EngineError('bad_experiment', `${file}: not valid JSON at line ${line}, column ${column}: ${reason}`, { line, column });
  }
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

/** A container this short (on one line) is written on one line even when it nests, e.g. a tensor reference. */
const ONE_LINE_CHARS = 100;

/**
 * The writer's layout: 2-space indent, keys in the order of the value given (file.ts
 * passes the schema-parsed document, so keys follow the schema), and a container on one
 * line when it holds only numbers, strings, booleans or null, or is short: a vector, a
 * token record or a tensor reference reads as one row instead of one line per element.
 */
export function formatDocument(value: unknown, indent = ''): string {
  if (typeof value !== 'object' || value === null) return JSON.stringify(value);
  const entries = Array.isArray(value) ? value.map((item) => [null, item] as const) : Object.entries(value).filter(([, item]) => item !== undefined);
  const [open, close] = Array.isArray(value) ? ['[', ']'] : ['{', '}'];
  const keyOf = (key: string | null) => (key === null ? '' : `${JSON.stringify(key)}: `);
  const line = `${open}${entries.map(([key, item]) => keyOf(key) + oneLine(item)).join(', ')}${close}`;
  if (entries.every(([, item]) => isPrimitive(item)) || line.length <= ONE_LINE_CHARS) return line;
  const inner = `${indent}  `;
  const lines = entries.map(([key, item]) => inner + keyOf(key) + formatDocument(item, inner));
  return `${open}\n${lines.join(',\n')}\n${indent}${close}`;
}

function oneLine(value: unknown): string {
  if (typeof value !== 'object' || value === null) return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(oneLine).join(', ')}]`;
  const entries = Object.entries(value).filter(([, item]) => item !== undefined);
  return `{${entries.map(([key, item]) => `${JSON.stringify(key)}: ${oneLine(item)}`).join(', ')}}`;
}

function isPrimitive(value: unknown): boolean {
  return value === null || ['number', 'string', 'boolean'].includes(typeof value);
}
