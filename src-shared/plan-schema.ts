/**
 * The shape of an intervention plan (STYLE.md, "Plans as data"), independent of any
 * model: the one schema the engine (hooks/plan.ts checks it against a model), experiment
 * files and the renderer's JSON editor all parse with. Shared by the engine and the
 * renderer (src-shared imports nothing but zod).
 *
 * Every list has an upper bound, which zod checks before it reads an element, so a
 * hostile request is refused in one issue instead of one per element. planSchemaFor
 * tightens the bounds to one model's dims; planSchema uses bounds that no model reaches.
 */
import { z } from 'zod';

/** Named position sets; explicit indices are absolute positions in the sequence. */
export const POSITION_KINDS = ['all', 'last', 'prompt', 'generated'] as const;

export const OPS = ['add', 'set', 'scale', 'patch', 'schedule', 'lens', 'weight_delta'] as const;

/** The longest list of each kind a plan may hold. */
export interface PlanLimits {
  /** Values in one vector, patch row or weight_delta factor row (the widest hook or weight side). */
  width: number;
  /** Positions: explicit position lists, prompt_ids and patch rows (n_ctx). */
  positions: number;
  /** Blocks a schedule runs (repeats allowed) and layers a lens reads. */
  blocks: number;
  /** Rows of a rank-k weight_delta factor. */
  rank: number;
  /** Captures, and interventions, in one plan. */
  steps: number;
}

/** Bounds above every model Tiller loads (a 2^20 vocabulary, a 2^20-token context). */
export const GENERIC_LIMITS: PlanLimits = { width: 1 << 20, positions: 1 << 20, blocks: 4096, rank: 4096, steps: 10_000 };

const tooMany = (what: string, max: number) => `has more than ${max} ${what}`;

/** The plan schema with lists bounded by `limits`. */
export function planSchemaFor(limits: PlanLimits) {
  const index = z.int().min(0, 'must be a non-negative integer');
  const unique = (list: number[]) => new Set(list).size === list.length;
  const indexList = (max: number, what: string) =>
    z.array(index).min(1, 'must not be empty').max(max, tooMany(what, max)).refine(unique, 'must not repeat an index');

  const positionList = indexList(limits.positions, 'positions');
  const positionsSchema = z.union([z.enum(POSITION_KINDS), positionList], {
    error: `expected one of ${POSITION_KINDS.map((kind) => `"${kind}"`).join(', ')}, or a list of position indices`,
  });
  const positions = positionsSchema.default('all');

  const hook = z.string().min(1, 'must name a hook').max(200, 'is too long for a hook name');
  const vector = z.array(z.number()).min(1, 'must not be empty').max(limits.width, tooMany('values', limits.width));
  // A rank-one factor as a flat list, or rank k as k rows; validatePlan checks u and v agree.
  const factor = z.union([vector, z.array(vector).min(1, 'must not be empty').max(limits.rank, tooMany('rows', limits.rank))], {
    error: 'expected a list of numbers (rank one) or a list of such lists (rank k)',
  });

  const captureSchema = z.strictObject({ hook, positions });
  const addSchema = z.strictObject({ op: z.literal('add'), hook, vector, scale: z.number().default(1), positions });
  // values: one per index, or a single value for every index.
  const setSchema = z.strictObject({ op: z.literal('set'), hook, indices: indexList(limits.width, 'indices'), values: vector, positions });
  const scaleSchema = z.strictObject({ op: z.literal('scale'), hook, indices: indexList(limits.width, 'indices'), values: vector, positions });
  const patchSourceSchema = z.union(
    [
      // run this prompt, take its activations
      z.strictObject({ prompt_ids: z.array(index).min(1, 'must not be empty').max(limits.positions, tooMany('tokens', limits.positions)) }),
      // [n_positions][width], cached earlier
      z.strictObject({ values: z.array(vector).min(1, 'must not be empty').max(limits.positions, tooMany('rows', limits.positions)) }),
    ],
    { error: 'expected {"prompt_ids": [token ids]} or {"values": [[one row per position]]}' },
  );
  const patchSchema = z.strictObject({ op: z.literal('patch'), hook, positions, source: patchSourceSchema });
  const scheduleSchema = z.strictObject({ op: z.literal('schedule'), blocks: z.array(index).min(1, 'must not be empty').max(limits.blocks, tooMany('blocks', limits.blocks)) });
  const lensSchema = z.strictObject({ op: z.literal('lens'), layers: indexList(limits.blocks, 'layers') });
  const weightDeltaSchema = z.strictObject({ op: z.literal('weight_delta'), param: z.string().max(200, 'is too long for a weight name'), u: factor, v: factor });

  const interventionSchema = z.discriminatedUnion('op', [addSchema, setSchema, scaleSchema, patchSchema, scheduleSchema, lensSchema, weightDeltaSchema], {
    error: (issue) => (issue.code === 'invalid_union' ? `expected op to be one of ${OPS.join(', ')}` : undefined),
  });
  const planSchema = z.strictObject({
    captures: z.array(captureSchema).max(limits.steps, tooMany('captures', limits.steps)).default(() => []),
    interventions: z.array(interventionSchema).max(limits.steps, tooMany('interventions', limits.steps)).default(() => []),
  });
  return { positionsSchema, captureSchema, interventionSchema, planSchema };
}

const generic = planSchemaFor(GENERIC_LIMITS);
export const positionsSchema = generic.positionsSchema;
export const captureSchema = generic.captureSchema;
export const interventionSchema = generic.interventionSchema;
export const planSchema = generic.planSchema;

export type Positions = z.infer<typeof positionsSchema>;
export type Capture = z.infer<typeof captureSchema>;
export type Intervention = z.infer<typeof interventionSchema>;
export type InterventionInput = z.input<typeof interventionSchema>;
export type Plan = z.infer<typeof planSchema>;
