/**
 * JSON text of experiment files: parsing that reports where the text is broken
 * (src-shared/json-syntax.ts), and the writer's layout.
 */
import { parseJson } from '../../../src-shared/json-syntax';
import { EngineError } from '../errors';

/** JSON.parse, or EngineError('bad_experiment') "<file>: not valid JSON at line L, column C: ...". */
export function parseJsonText(text: string, file: string): unknown {
  const parsed = parseJson(text);
  if (parsed.ok) return parsed.value;
  throw new EngineError('bad_experiment', `${file}: ${parsed.message}`, { line: parsed.line, column: parsed.column });
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
