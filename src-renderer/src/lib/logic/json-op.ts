/**
 * An intervention typed as JSON, checked for shape before it enters the variant. The
 * forms trust the fields of the op they edit (a steering form formats its `positions`,
 * a patch form looks inside `source`), so a half-right op must stay in the JSON editor,
 * with a message, rather than reach a form and throw there.
 *
 * This mirrors the shape half of the engine's interventionSchema (engine/hooks/plan.ts),
 * defaults included; the renderer cannot import that schema at run time (layering). The
 * engine still checks everything against the model, and a mismatch here only means a
 * message from this side instead of the engine's.
 */
import type { Intervention, Positions } from '../api/types';

export type ParsedOp = { value: Intervention } | { error: string };

const OPS = ['add', 'set', 'scale', 'patch', 'schedule', 'lens', 'weight_delta'] as const;
const POSITION_KINDS = ['all', 'last', 'prompt', 'generated'];

/** Fields each op takes; `optional` ones have a default (filled in below). */
const FIELDS: Record<(typeof OPS)[number], { required: string[]; optional?: string[] }> = {
  add: { required: ['hook', 'vector'], optional: ['scale', 'positions'] },
  set: { required: ['hook', 'indices', 'values'], optional: ['positions'] },
  scale: { required: ['hook', 'indices', 'values'], optional: ['positions'] },
  patch: { required: ['hook', 'source'], optional: ['positions'] },
  schedule: { required: ['blocks'] },
  lens: { required: ['layers'] },
  weight_delta: { required: ['param', 'u', 'v'] },
};

class ShapeError extends Error {}

function fail(message: string): never {
  throw new ShapeError(message);
}

export function parseInterventionJson(text: string): ParsedOp {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (caught) {
    return { error: `not JSON: ${caught instanceof Error ? caught.message : String(caught)}` };
  }
  try {
    return { value: interventionOf(value) };
  } catch (caught) {
    if (caught instanceof ShapeError) return { error: caught.message };
    throw caught;
  }
}

function interventionOf(value: unknown): Intervention {
  if (!isObject(value)) fail('must be a JSON object');
  const op = value.op;
  if (typeof op !== 'string') fail('needs an "op" field');
  if (!(OPS as readonly string[]).includes(op)) fail(`op: expected one of ${OPS.join(', ')}`);
  const fields = FIELDS[op as (typeof OPS)[number]];
  for (const key of Object.keys(value)) {
    if (key !== 'op' && !fields.required.includes(key) && !(fields.optional ?? []).includes(key)) fail(`${key}: not a field of a ${op} op`);
  }
  for (const key of fields.required) if (!(key in value)) fail(`${key}: missing (a ${op} op needs ${fields.required.join(', ')})`);

  switch (op as (typeof OPS)[number]) {
    case 'add':
      return {
        op: 'add',
        hook: hookOf(value.hook),
        vector: numbers(value.vector, 'vector'),
        scale: value.scale === undefined ? 1 : number(value.scale, 'scale'),
        positions: positionsOf(value.positions),
      };
    case 'set':
    case 'scale':
      return {
        op: op as 'set' | 'scale',
        hook: hookOf(value.hook),
        indices: indices(value.indices, 'indices'),
        values: numbers(value.values, 'values'),
        positions: positionsOf(value.positions),
      };
    case 'patch':
      return { op: 'patch', hook: hookOf(value.hook), positions: positionsOf(value.positions), source: sourceOf(value.source) };
    case 'schedule':
      return { op: 'schedule', blocks: indices(value.blocks, 'blocks') };
    case 'lens':
      return { op: 'lens', layers: indices(value.layers, 'layers') };
    case 'weight_delta':
      if (typeof value.param !== 'string') fail('param: must be a string (a weight name, e.g. blocks.2.mlp.down_proj)');
      return { op: 'weight_delta', param: value.param, u: factor(value.u, 'u'), v: factor(value.v, 'v') };
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function hookOf(value: unknown): string {
  if (typeof value !== 'string' || value === '') fail('hook: must name a hook, e.g. blocks.2.hook_resid_post');
  return value;
}

function number(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) fail(`${path}: must be a number`);
  return value;
}

function numbers(value: unknown, path: string): number[] {
  if (!Array.isArray(value)) fail(`${path}: must be a list of numbers`);
  return value.map((item, i) => number(item, `${path}.${i}`));
}

function indices(value: unknown, path: string): number[] {
  if (!Array.isArray(value)) fail(`${path}: must be a list of non-negative integers`);
  return value.map((item, i) => (Number.isInteger(item) && (item as number) >= 0 ? (item as number) : fail(`${path}.${i}: must be a non-negative integer`)));
}

function positionsOf(value: unknown): Positions {
  if (value === undefined) return 'all';
  if (typeof value === 'string') {
    if (POSITION_KINDS.includes(value)) return value as Positions;
    fail(`positions: expected one of ${POSITION_KINDS.map((kind) => `"${kind}"`).join(', ')}, or a list of position indices`);
  }
  return indices(value, 'positions');
}

function sourceOf(value: unknown): { prompt_ids: number[] } | { values: number[][] } {
  const shape = 'source: expected {"prompt_ids": [token ids]} or {"values": [[one row per position]]}';
  if (!isObject(value)) fail(shape);
  const keys = Object.keys(value);
  if (keys.length !== 1) fail(shape);
  if ('prompt_ids' in value) return { prompt_ids: indices(value.prompt_ids, 'source.prompt_ids') };
  if ('values' in value) {
    if (!Array.isArray(value.values)) fail('source.values: must be a list of rows of numbers');
    return { values: value.values.map((row, i) => numbers(row, `source.values.${i}`)) };
  }
  fail(shape);
}

/** A rank-one factor (a list of numbers) or rank k (a list of such lists). */
function factor(value: unknown, path: string): number[] | number[][] {
  if (!Array.isArray(value)) fail(`${path}: expected a list of numbers (rank one) or a list of such lists (rank k)`);
  return value.length > 0 && Array.isArray(value[0]) ? value.map((row, i) => numbers(row, `${path}.${i}`)) : numbers(value, path);
}
