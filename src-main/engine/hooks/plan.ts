/**
 * Intervention plans as data (STYLE.md, "Plans as data"). In TransformerLens a hook is
 * a closure; a Tiller intervention crosses IPC, is saved in experiment files and is
 * compiled into ONNX, so it is a JSON value instead, checked in two steps:
 *
 *   planSchema            the shape of the JSON (zod), independent of any model
 *   validatePlan          the schema, then every hook, width, index and position against
 *                         one model (and the schedule's skipped blocks, hooks/schedule.ts)
 *   validateRunPositions  explicit positions and patch rows against one forward pass
 *
 * The ops form a closed set, mirroring DESIGN.md:
 *   add(hook, vector, scale, positions)        acts[p] += scale * vector          steering
 *   set(hook, indices, values, positions)      acts[p][..., i] = value            neuron clamp
 *   scale(hook, indices, values, positions)    acts[p][..., i] *= value           head ablation
 *   patch(hook, positions, source)             acts[p] = source activations[p]    activation patching
 *   schedule(blocks)                           run blocks in this order (skip, repeat, reorder)
 *                                              a skipped block is the identity: hooks/schedule.ts
 *   lens(layers)                               extra logits from hook_resid_post of these blocks
 *   weight_delta(param, u, v)                  W += sum_k u[k] v[k]^T             ROME / EigenShift
 *                                              (several on one weight add up)
 */
import { MAX_ISSUES, capIssues, issueLines, safeParseBounded, zodIssues, type Issue } from '../../../src-shared/issues';
import { parseJson } from '../../../src-shared/json-syntax';
import { planSchemaFor, type PlanLimits, type Plan, type Positions, type Intervention } from '../../../src-shared/plan-schema';
import { EngineError } from '../errors';
import { expectedParams, type ModelSpec } from '../model/spec';
import { blockRange, hookInfo, type HookInfo } from './names';
import { selectedIndices, type RunPositions } from './positions';
import { scheduleReport } from './schedule';

// The schema lives in src-shared so the renderer parses plans with it too.
export { planSchema, interventionSchema, positionsSchema, captureSchema, POSITION_KINDS } from '../../../src-shared/plan-schema';
export type { Plan, Positions, Capture, Intervention } from '../../../src-shared/plan-schema';

/**
 * The cache key of the graph a plan compiles to: its STRUCTURE, never its values.
 * Values become graph inputs, so plans with equal keys share one compiled session and
 * can run as rows of one batch.
 *
 * In the key, in plan order (order matters: interventions on one hook compose in order):
 *   capture        hook, positions kind
 *   add            op, hook, positions kind
 *   set / scale    op, hook, positions kind, number of indices
 *   patch          op, hook, positions kind, source kind ('prompt_ids' | 'values')
 *   schedule       the full block list (it is the graph's topology)
 *   lens           the full layer list (each is an extra output)
 *   weight_delta   param, rank k
 * where "positions kind" is 'all' | 'last' | 'prompt' | 'generated' | 'indices': every
 * selector is fed as a position mask (hooks/positions.ts), so explicit indices are values.
 *
 * NOT in the key, so the compiler must feed them as inputs: add's vector and scale;
 * set/scale's index values and values (broadcast to one per index before feeding);
 * explicit position indices; patch's prompt ids and values; weight_delta's u and v.
 * The key does not name the model: cache per model as well.
 */
export function planStructureKey(plan: Plan): string {
  const captures = plan.captures.map((capture) => [capture.hook, positionsKind(capture.positions)]);
  const interventions = plan.interventions.map((step): (string | number)[] => {
    switch (step.op) {
      case 'add':
        return [step.op, step.hook, positionsKind(step.positions)];
      case 'set':
      case 'scale':
        return [step.op, step.hook, positionsKind(step.positions), step.indices.length];
      case 'patch':
        return [step.op, step.hook, positionsKind(step.positions), 'prompt_ids' in step.source ? 'prompt_ids' : 'values'];
      case 'schedule':
        return [step.op, ...step.blocks];
      case 'lens':
        return [step.op, ...step.layers];
      case 'weight_delta':
        return [step.op, step.param, factorRank(step.u)];
    }
  });
  return JSON.stringify({ captures, interventions });
}

function positionsKind(selector: Positions): string {
  return typeof selector === 'string' ? selector : 'indices';
}

/** A weight_delta factor as k rows (a flat list is rank one), the layout the compiler feeds. */
export function factorRows(factor: number[] | number[][]): number[][] {
  return isRows(factor) ? factor : [factor];
}

function factorRank(factor: number[] | number[][]): number {
  return factorRows(factor).length;
}

function isRows(factor: number[] | number[][]): factor is number[][] {
  return Array.isArray(factor[0]);
}

// ------------------------------------------------------------------------ validation

/** One problem, located by its JSON path, e.g. "interventions[0].vector". */
export type PlanIssue = Issue;
type Report = (path: string, message: string) => void;

/**
 * The plan schema bounded by this model's dims: no list may be longer than the widest
 * hook or weight side (width), the context (positions), or a few passes over the blocks.
 * Built once per model.
 */
const schemaOfModel = new WeakMap<ModelSpec, ReturnType<typeof planSchemaFor>['planSchema']>();

export function planLimits(spec: ModelSpec): PlanLimits {
  const width = Math.max(spec.dVocab, spec.dMlp, spec.dModel, spec.nHeads * spec.dHead);
  return { width, positions: spec.nCtx, blocks: 16 * spec.nLayers, rank: Math.min(width, 4096), steps: 10_000 };
}

function planSchemaOf(spec: ModelSpec) {
  let schema = schemaOfModel.get(spec);
  if (!schema) {
    schema = planSchemaFor(planLimits(spec)).planSchema;
    schemaOfModel.set(spec, schema);
  }
  return schema;
}

/**
 * The plan, parsed (defaults filled in) and checked against the model. Throws
 * EngineError('bad_plan') listing every problem with its JSON path; details.issues has
 * them as { path, message } for a UI to point at the field.
 */
export function validatePlan(spec: ModelSpec, plan: unknown): Plan {
  if (typeof plan === 'object' && plan !== null && validatedFor.get(plan) === spec) return plan as Plan;
  const parsed = safeParseBounded(planSchemaOf(spec), plan);
  if (!parsed.success) throw planError(zodIssues(parsed.error.issues, [], '(plan)'));
  const issues: PlanIssue[] = [];
  // Lists are bounded by now, but one bad index each can still be many issues: keep the first ones.
  checkAgainstModel(spec, parsed.data, (path, message) => {
    if (issues.length <= MAX_ISSUES) issues.push({ path, message });
  });
  if (issues.length === 0) issues.push(...scheduleReport(parsed.data).errors); // needs known hooks and blocks
  if (issues.length > 0) throw planError(issues);
  validatedFor.set(parsed.data, spec);
  return parsed.data;
}

/**
 * Plans validatePlan returned, with the model each was checked against: handing one back
 * (the workbench validates a request once, then the engine receives the result) returns
 * it unchecked. The plans are the engine's own parsed objects, never changed afterwards.
 */
const validatedFor = new WeakMap<object, ModelSpec>();

/**
 * Warnings for a valid plan: interventions that have no effect because the schedule
 * skips their block (hooks/schedule.ts). They run; the results carry these.
 */
export function planWarnings(plan: Plan): PlanIssue[] {
  return scheduleReport(plan).warnings;
}

/**
 * Checks that need the run's length, for one forward pass over `run.count` tokens from
 * position 0 (ModelHandle.run). Explicit positions must lie inside the run, and a patch
 * must have a row for every position it selects: its `source.values` one row per selected
 * position, its `source.prompt_ids` a token at each. During generation the same plan
 * is not checked this way: explicit positions may name tokens not generated yet (they
 * only have to be below n_ctx, which validatePlan checks), and a patch leaves positions
 * it has no row for unpatched.
 */
export function validateRunPositions(plan: Plan, run: RunPositions): void {
  const issues: PlanIssue[] = [];
  const last = run.start + run.count - 1;
  const inside = (positions: Positions, path: string): void => {
    if (typeof positions === 'string') return;
    positions.forEach((position, j) => {
      if (position > last) issues.push({ path: `${path}.positions[${j}]`, message: `position ${position} is past the end of the run (${run.count} tokens: positions 0..${last})` });
    });
  };
  plan.captures.forEach((capture, i) => inside(capture.positions, `captures[${i}]`));
  plan.interventions.forEach((step, i) => {
    const path = `interventions[${i}]`;
    if (!('positions' in step)) return;
    inside(step.positions, path);
    if (step.op !== 'patch') return;
    const selected = selectedIndices(step.positions, run).map((index) => run.start + index);
    const what = `positions ${JSON.stringify(step.positions)} select ${selected.length} of the run's ${run.count}`;
    if ('values' in step.source) {
      if (step.source.values.length !== selected.length) issues.push({ path: `${path}.source.values`, message: `has ${step.source.values.length} rows; ${what} (one row per selected position, in order)` });
    } else {
      const length = step.source.prompt_ids.length;
      const beyond = selected.filter((position) => position >= length);
      if (beyond.length > 0 && typeof step.positions === 'string') {
        issues.push({ path: `${path}.source.prompt_ids`, message: `has ${length} tokens; ${what}, up to position ${beyond[beyond.length - 1]}, which the source run does not reach` });
      }
    }
  });
  if (issues.length > 0) throw planError(issues);
}

/** validatePlan for JSON text (a file, a CLI flag). */
export function parsePlanJson(text: string, spec: ModelSpec): Plan {
  const parsed = parseJson(text);
  if (!parsed.ok) throw new EngineError('bad_plan', `plan: ${parsed.message}`, { line: parsed.line, column: parsed.column });
  return validatePlan(spec, parsed.value);
}

function planError(all: PlanIssue[]): EngineError {
  const issues = capIssues(all);
  return new EngineError('bad_plan', `invalid plan: ${issueLines(issues)}`, { issues });
}

function checkAgainstModel(spec: ModelSpec, plan: Plan, report: Report): void {
  // One schedule: it is the order the blocks run in, and two would contradict each other.
  const schedules = plan.interventions.flatMap((step, i) => (step.op === 'schedule' ? [`interventions[${i}]`] : []));
  for (const extra of schedules.slice(1)) report(extra, `a plan may have only one schedule (the first is ${schedules[0]})`);

  const captured = new Map<string, string>();
  plan.captures.forEach((capture, i) => {
    const path = `captures[${i}]`;
    checkPositions(spec, capture.positions, path, report);
    hookOrReport(spec, `${path}.hook`, capture.hook, report);
    // Captures come back keyed by hook name, so a second one would collide.
    const first = captured.get(capture.hook);
    if (first) report(`${path}.hook`, `${capture.hook} is already captured by ${first}`);
    else captured.set(capture.hook, path);
  });

  plan.interventions.forEach((step, i) => {
    const path = `interventions[${i}]`;
    if ('positions' in step) checkPositions(spec, step.positions, path, report);
    switch (step.op) {
      case 'add': {
        const info = hookOrReport(spec, `${path}.hook`, step.hook, report);
        if (info) checkVector(info, step.vector, `${path}.vector`, report);
        break;
      }
      case 'set':
      case 'scale': {
        const info = hookOrReport(spec, `${path}.hook`, step.hook, report);
        if (info) checkIndices(info, step.indices, step.values, path, report);
        break;
      }
      case 'patch': {
        const info = hookOrReport(spec, `${path}.hook`, step.hook, report);
        if (info) checkPatch(spec, info, step, path, report);
        break;
      }
      case 'schedule':
        step.blocks.forEach((block, j) => checkBlock(spec, block, `${path}.blocks[${j}]`, report));
        break;
      case 'lens':
        step.layers.forEach((layer, j) => checkBlock(spec, layer, `${path}.layers[${j}]`, report));
        break;
      case 'weight_delta':
        checkWeightDelta(spec, step, path, report);
        break;
    }
  });
}

function hookOrReport(spec: ModelSpec, path: string, name: string, report: Report): HookInfo | null {
  try {
    return hookInfo(spec, name);
  } catch (error) {
    if (!(error instanceof EngineError)) throw error;
    report(path, error.message);
    return null;
  }
}

/** Explicit positions may name tokens generated later, but never past the model's context. */
function checkPositions(spec: ModelSpec, positions: Positions, path: string, report: Report): void {
  if (typeof positions === 'string') return;
  positions.forEach((position, j) => {
    if (position >= spec.nCtx) report(`${path}.positions[${j}]`, `position ${position} is beyond the model's context (n_ctx = ${spec.nCtx}: positions 0..${spec.nCtx - 1})`);
  });
}

function checkBlock(spec: ModelSpec, block: number, path: string, report: Report): void {
  if (block >= spec.nLayers) report(path, `block ${block} is out of range: this model has blocks ${blockRange(spec)}`);
}

/** add: the vector is added along the hook's last dim (broadcast over heads at head sites). */
function checkVector(info: HookInfo, vector: number[], path: string, report: Report): void {
  const size = info.shape[info.shape.length - 1];
  const dim = info.dims[info.dims.length - 1];
  if (size === 'pos') report(path, `cannot add a vector to ${info.name}: its last dim ${dim} is a position axis`);
  else if (vector.length !== size) report(path, `has ${vector.length} values; ${info.name} needs ${dim} = ${size}`);
}

function checkIndices(info: HookInfo, indices: number[], values: number[], path: string, report: Report): void {
  if (info.indexUnit === null) {
    report(`${path}.hook`, `${info.name} takes no set/scale indices`);
    return;
  }
  indices.forEach((index, j) => {
    if (index >= info.nIndex) report(`${path}.indices[${j}]`, `${index} is out of range: ${info.name} has ${info.nIndex} ${info.indexUnit}s (0..${info.nIndex - 1})`);
  });
  if (values.length !== 1 && values.length !== indices.length) {
    report(`${path}.values`, `has ${values.length} values for ${indices.length} indices; give one per index, or one for all`);
  }
}

function checkPatch(spec: ModelSpec, info: HookInfo, step: Extract<Intervention, { op: 'patch' }>, path: string, report: Report): void {
  // Patching replaces whole rows [position, ...]; the pattern is [head, q_pos, k_pos].
  if (info.dims[0] !== 'pos') {
    report(`${path}.hook`, `cannot patch ${info.name}: patch needs a hook whose first dim is pos, and it is [${info.dims.join(', ')}]`);
    return;
  }
  const explicit = typeof step.positions === 'string' ? null : step.positions;
  if ('prompt_ids' in step.source) {
    const ids = step.source.prompt_ids;
    ids.forEach((id, j) => {
      if (id >= spec.dVocab) report(`${path}.source.prompt_ids[${j}]`, `token ${id} is out of range: the vocabulary has ${spec.dVocab} tokens`);
    });
    // The source run supplies position p for position p, so it must be that long.
    explicit?.forEach((position, j) => {
      if (position >= ids.length) report(`${path}.positions[${j}]`, `position ${position} is beyond the source prompt (${ids.length} tokens)`);
    });
    return;
  }
  const rows = step.source.values;
  const dims = info.dims.slice(1);
  const width = info.shape.slice(1).reduce<number>((product, size) => product * (size as number), 1); // only dims[0] is pos here
  rows.forEach((row, j) => {
    if (row.length !== width) report(`${path}.source.values[${j}]`, `has ${row.length} values; ${info.name} needs ${dims.join(' * ')} = ${width}`);
  });
  const expectedRows = explicit ? explicit.length : step.positions === 'last' ? 1 : null;
  if (expectedRows !== null && rows.length !== expectedRows) {
    report(`${path}.source.values`, `has ${rows.length} rows; positions ${JSON.stringify(step.positions)} select ${expectedRows}`);
  }
}

// Weights a delta may edit: the projections ([out_features, in_features], Hugging Face layout) the model has.
const PROJECTION = /^blocks\.(0|[1-9][0-9]*)\.((attn|mlp)\.[a-z]+_proj)$/;

function checkWeightDelta(spec: ModelSpec, step: Extract<Intervention, { op: 'weight_delta' }>, path: string, report: Report): void {
  const shape = editableShape(spec, step.param, `${path}.param`, report);
  const rankU = factorRank(step.u);
  const rankV = factorRank(step.v);
  if (rankU !== rankV) report(`${path}.v`, `has rank ${rankV} but u has rank ${rankU}; give one v row per u row`);
  if (!shape) return;
  const [outFeatures, inFeatures] = shape;
  const checkRows = (factor: number[] | number[][], name: 'u' | 'v', size: number, label: string): void => {
    factorRows(factor).forEach((row, k) => {
      const at = isRows(factor) ? `${path}.${name}[${k}]` : `${path}.${name}`;
      if (row.length !== size) report(at, `has ${row.length} values; ${step.param} needs ${label} = ${size}`);
    });
  };
  checkRows(step.u, 'u', outFeatures, 'out_features');
  checkRows(step.v, 'v', inFeatures, 'in_features');
}

function editableShape(spec: ModelSpec, param: string, path: string, report: Report): number[] | null {
  // The graph keeps its own unembedding matrix even when the checkpoint ties it to the
  // embedding, so 'unembed' is editable either way and the edit leaves the embedding alone.
  if (param === 'unembed') return [spec.dVocab, spec.dModel];
  const match = PROJECTION.exec(param);
  const params = expectedParams(spec);
  if (!match || ![...params.keys()].some((name) => name.endsWith(`.${match[2]}.weight`))) {
    const range = `{${blockRange(spec)}}`;
    const mlp = spec.traits.mlp === 'gated' ? 'gate,up,down' : 'up,down';
    report(path, `unknown weight '${param}'; valid: blocks.${range}.attn.{q,k,v,o}_proj, blocks.${range}.mlp.{${mlp}}_proj, unembed`);
    return null;
  }
  const shape = params.get(`${param}.weight`);
  if (!shape) report(path, `block ${match[1]} is out of range: this model has blocks ${blockRange(spec)}`);
  return shape ?? null;
}
