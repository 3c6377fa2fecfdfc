import { describe, expect, it } from 'vitest';
import { storiesSpec } from '../../test/fixtures/specs';
import { EngineError } from '../errors';
import { factorRows, parsePlanJson, planSchema, planStructureKey, planWarnings, validatePlan, validateRunPositions, type Plan } from './plan';

// stories260K-like: d_model 64, 5 blocks, 8 query / 4 KV heads of 8, d_mlp 172, d_vocab 512.
const spec = storiesSpec();
const filled = (length: number, value = 0.5): number[] => Array.from({ length }, () => value);

/** The canonical plan of the hooks issue, with arrays of the right length for `spec`. */
function canonicalPlan() {
  return {
    captures: [{ hook: 'blocks.4.hook_resid_post', positions: 'last' }],
    interventions: [
      { op: 'add', hook: 'blocks.2.hook_resid_post', vector: filled(64), scale: 1.0, positions: 'all' },
      { op: 'set', hook: 'blocks.1.mlp.hook_post', indices: [17, 42], values: [8.0, 0.0], positions: 'all' },
      { op: 'scale', hook: 'blocks.3.attn.hook_z', indices: [5], values: [0.0] },
      { op: 'patch', hook: 'blocks.2.hook_resid_pre', positions: [3, 4], source: { prompt_ids: [1, 403, 9, 77, 12] } },
      { op: 'schedule', blocks: [0, 1, 1, 2, 4] },
      { op: 'lens', layers: [2, 3] },
      { op: 'weight_delta', param: 'blocks.2.mlp.down_proj', u: filled(64), v: filled(172) },
    ],
  };
}

function rejection(plan: unknown): EngineError {
  try {
    validatePlan(spec, plan);
  } catch (error) {
    if (error instanceof EngineError) return error;
    throw error;
  }
  throw new Error('expected the plan to be rejected');
}

describe('validatePlan accepts', () => {
  it('the canonical plan, filling defaults', () => {
    const plan = validatePlan(spec, canonicalPlan());
    expect(plan.captures).toEqual([{ hook: 'blocks.4.hook_resid_post', positions: 'last' }]);
    expect(plan.interventions.map((step) => step.op)).toEqual(['add', 'set', 'scale', 'patch', 'schedule', 'lens', 'weight_delta']);
    expect(plan.interventions[2]).toEqual({ op: 'scale', hook: 'blocks.3.attn.hook_z', indices: [5], values: [0], positions: 'all' });
  });

  it('an empty plan, and defaults for scale and positions', () => {
    expect(validatePlan(spec, {})).toEqual({ captures: [], interventions: [] });
    const plan = validatePlan(spec, { interventions: [{ op: 'add', hook: 'hook_embed', vector: filled(64) }] });
    expect(plan.interventions[0]).toEqual({ op: 'add', hook: 'hook_embed', vector: filled(64), scale: 1, positions: 'all' });
  });

  it('plans that survive a JSON round trip unchanged', () => {
    const plan = validatePlan(spec, canonicalPlan());
    expect(validatePlan(spec, JSON.parse(JSON.stringify(plan)))).toEqual(plan);
  });

  it.each([
    ['one value broadcast to every index', { op: 'set', hook: 'blocks.1.mlp.hook_post', indices: [1, 2, 3], values: [0] }],
    ['a head-site vector of d_head values', { op: 'add', hook: 'blocks.0.attn.hook_v', vector: filled(8), positions: 'generated' }],
    ['KV-head indices below n_kv_heads', { op: 'scale', hook: 'blocks.0.attn.hook_k', indices: [0, 3], values: [0, 2] }],
    ['pattern heads', { op: 'scale', hook: 'blocks.0.attn.hook_pattern', indices: [7], values: [0] }],
    ['patch values of width n_kv_heads * d_head', { op: 'patch', hook: 'blocks.0.attn.hook_k', positions: 'last', source: { values: [filled(32)] } }],
    ['patch values for any number of "prompt" rows', { op: 'patch', hook: 'hook_embed', positions: 'prompt', source: { values: [filled(64), filled(64)] } }],
    ['a rank-2 weight delta', { op: 'weight_delta', param: 'blocks.0.attn.k_proj', u: [filled(32), filled(32)], v: [filled(64), filled(64)] }],
    ['a delta on the unembedding of a tied model', { op: 'weight_delta', param: 'unembed', u: filled(512), v: filled(64) }],
  ])('%s', (_, step) => {
    expect(() => validatePlan(spec, { interventions: [step] })).not.toThrow();
  });
});

describe('validatePlan rejects with bad_plan naming the field', () => {
  const add = { op: 'add', hook: 'blocks.2.hook_resid_post', vector: filled(64) };
  const patch = { op: 'patch', hook: 'blocks.2.hook_resid_pre', positions: [3, 4], source: { prompt_ids: [1, 2, 3, 4, 5] } };
  const delta = { op: 'weight_delta', param: 'blocks.2.mlp.down_proj', u: filled(64), v: filled(172) };
  const one = (step: object) => ({ interventions: [step] });

  it.each<[string, unknown, string]>([
    // Shape of the JSON
    ['a non-object plan', 'steer please', '(plan): expected object, received string'],
    ['interventions that are not a list', { interventions: {} }, 'interventions: expected array, received object'],
    ['an unknown top-level key', { captures: [], intervention: [] }, 'intervention: unknown field'],
    ['an unknown op', one({ op: 'steer', hook: 'hook_embed' }), 'interventions[0].op: expected op to be one of add, set, scale, patch, schedule, lens, weight_delta'],
    ['a missing op', one({ hook: 'hook_embed' }), 'interventions[0].op: expected op to be one of'],
    ['a misspelt field', one({ ...add, vectr: [] }), 'interventions[0].vectr: unknown field'],
    ['a missing hook', one({ op: 'add', vector: filled(64) }), 'interventions[0].hook: missing (expected string)'],
    ['a vector that is not a list', one({ ...add, vector: 'up' }), 'interventions[0].vector: expected array, received string'],
    ['a non-finite vector value', one({ ...add, vector: [...filled(63), Infinity] }), 'interventions[0].vector[63]: expected number, received Infinity'],
    ['a non-numeric scale', one({ ...add, scale: '2' }), 'interventions[0].scale: expected number, received string'],
    ['an unknown positions kind', { captures: [{ hook: 'logits', positions: 'first' }] }, 'captures[0].positions: expected one of "all", "last", "prompt", "generated", or a list of position indices'],
    ['empty positions', one({ ...add, positions: [] }), 'interventions[0].positions: must not be empty'],
    ['a negative position', one({ ...add, positions: [2, -1] }), 'interventions[0].positions[1]: must be a non-negative integer'],
    ['a fractional position', one({ ...add, positions: [1.5] }), 'interventions[0].positions[0]: expected int, received number'],
    ['repeated positions', one({ ...add, positions: [3, 3] }), 'interventions[0].positions: must not repeat an index'],
    ['repeated indices', one({ op: 'set', hook: 'blocks.1.mlp.hook_post', indices: [4, 4], values: [0] }), 'interventions[0].indices: must not repeat an index'],
    ['empty values', one({ op: 'set', hook: 'blocks.1.mlp.hook_post', indices: [4], values: [] }), 'interventions[0].values: must not be empty'],
    ['a patch source of neither kind', one({ ...patch, source: { ids: [1] } }), 'interventions[0].source: expected {"prompt_ids": [token ids]} or {"values": [[one row per position]]}'],
    ['a patch source of both kinds', one({ ...patch, source: { prompt_ids: [1], values: [[1]] } }), 'interventions[0].source: expected {"prompt_ids"'],
    ['a fractional source token', one({ ...patch, source: { prompt_ids: [1, 2.5] } }), 'interventions[0].source.prompt_ids[1]: expected int, received number'],
    ['an empty schedule', one({ op: 'schedule', blocks: [] }), 'interventions[0].blocks: must not be empty'],
    ['an empty lens', one({ op: 'lens', layers: [] }), 'interventions[0].layers: must not be empty'],
    ['a weight factor that is not numbers', one({ ...delta, u: 'x' }), 'interventions[0].u: expected a list of numbers (rank one) or a list of such lists (rank k)'],
    // Fit to the model
    ['an unknown hook', one({ ...add, hook: 'blocks.2.hook_resid_postt' }), "interventions[0].hook: unknown hook 'blocks.2.hook_resid_postt'; valid: hook_embed, blocks.{0..4}.hook_resid_pre,"],
    ['a capture past the last block', { captures: [{ hook: 'blocks.7.hook_resid_post' }] }, 'captures[0].hook: layer 7 is out of range: this model has blocks 0..4'],
    ['a hook captured twice', { captures: [{ hook: 'logits' }, { hook: 'logits', positions: 'last' }] }, 'captures[1].hook: logits is already captured by captures[0]'],
    ['a vector of the wrong width', one({ ...add, vector: filled(63) }), 'interventions[0].vector: has 63 values; blocks.2.hook_resid_post needs d_model = 64'],
    ['a head-site vector of d_model values', one({ ...add, hook: 'blocks.0.attn.hook_z' }), 'interventions[0].vector: has 64 values; blocks.0.attn.hook_z needs d_head = 8'],
    ['adding to the pattern', one({ ...add, hook: 'blocks.0.attn.hook_pattern' }), 'interventions[0].vector: cannot add a vector to blocks.0.attn.hook_pattern: its last dim k_pos is a position axis'],
    ['a neuron past d_mlp', one({ op: 'set', hook: 'blocks.1.mlp.hook_post', indices: [17, 172], values: [0] }), 'interventions[0].indices[1]: 172 is out of range: blocks.1.mlp.hook_post has 172 neurons (0..171)'],
    ['a head past n_heads', one({ op: 'scale', hook: 'blocks.3.attn.hook_z', indices: [8], values: [0] }), 'interventions[0].indices[0]: 8 is out of range: blocks.3.attn.hook_z has 8 heads (0..7)'],
    ['a KV head past n_kv_heads', one({ op: 'scale', hook: 'blocks.3.attn.hook_rot_k', indices: [4], values: [0] }), 'interventions[0].indices[0]: 4 is out of range: blocks.3.attn.hook_rot_k has 4 heads (0..3)'],
    ['a dim past d_model', one({ op: 'set', hook: 'hook_embed', indices: [64], values: [0] }), 'interventions[0].indices[0]: 64 is out of range: hook_embed has 64 dims (0..63)'],
    ['values that do not match indices', one({ op: 'set', hook: 'blocks.1.mlp.hook_post', indices: [1, 2, 3], values: [1, 2] }), 'interventions[0].values: has 2 values for 3 indices; give one per index, or one for all'],
    ['set on logits', one({ op: 'set', hook: 'logits', indices: [5], values: [0] }), 'interventions[0].hook: logits takes no set/scale indices'],
    ['patching the pattern', one({ ...patch, hook: 'blocks.1.attn.hook_pattern' }), 'interventions[0].hook: cannot patch blocks.1.attn.hook_pattern: patch needs a hook whose first dim is pos, and it is [head, q_pos, k_pos]'],
    ['a source token past the vocabulary', one({ ...patch, source: { prompt_ids: [1, 512, 3, 4, 5] } }), 'interventions[0].source.prompt_ids[1]: token 512 is out of range: the vocabulary has 512 tokens'],
    ['a position past the source prompt', one({ ...patch, positions: [3, 9] }), 'interventions[0].positions[1]: position 9 is beyond the source prompt (5 tokens)'],
    ['patch values of the wrong width', one({ ...patch, source: { values: [filled(64), filled(63)] } }), 'interventions[0].source.values[1]: has 63 values; blocks.2.hook_resid_pre needs d_model = 64'],
    ['patch head values of the wrong width', one({ ...patch, hook: 'blocks.0.attn.hook_q', positions: 'last', source: { values: [filled(32)] } }), 'interventions[0].source.values[0]: has 32 values; blocks.0.attn.hook_q needs head * d_head = 64'],
    ['patch values with one row per position missing', one({ ...patch, source: { values: [filled(64)] } }), 'interventions[0].source.values: has 1 rows; positions [3,4] select 2'],
    ['a position past the context', one({ ...add, positions: [3, 512] }), "interventions[0].positions[1]: position 512 is beyond the model's context (n_ctx = 512: positions 0..511)"],
    ['a capture position past the context', { captures: [{ hook: 'logits', positions: [600] }] }, "captures[0].positions[0]: position 600 is beyond the model's context"],
    [
      'a capture of a skipped block other than its residual hooks',
      { captures: [{ hook: 'blocks.3.ln2.hook_normalized' }], interventions: [{ op: 'schedule', blocks: [0, 1, 2, 4] }] },
      'captures[0].hook: blocks.3.ln2.hook_normalized is in block 3, which the schedule [0, 1, 2, 4] skips: of a skipped block only the residual hooks (hook_resid_pre/mid/post, which read the stream passing it by) can be captured',
    ],
    ['a schedule past the last block', one({ op: 'schedule', blocks: [0, 5] }), 'interventions[0].blocks[1]: block 5 is out of range: this model has blocks 0..4'],
    ['two schedules', { interventions: [{ op: 'schedule', blocks: [0] }, add, { op: 'schedule', blocks: [1] }] }, 'interventions[2]: a plan may have only one schedule (the first is interventions[0])'],
    ['a lens past the last block', one({ op: 'lens', layers: [2, 5] }), 'interventions[0].layers[1]: block 5 is out of range: this model has blocks 0..4'],
    ['an unknown weight', one({ ...delta, param: 'blocks.2.mlp.down_proj.weight' }), "interventions[0].param: unknown weight 'blocks.2.mlp.down_proj.weight'; valid: blocks.{0..4}.attn.{q,k,v,o}_proj, blocks.{0..4}.mlp.{gate,up,down}_proj, unembed"],
    ['a weight past the last block', one({ ...delta, param: 'blocks.9.mlp.down_proj' }), 'interventions[0].param: block 9 is out of range: this model has blocks 0..4'],
    ['u of the wrong length', one({ ...delta, u: filled(172) }), 'interventions[0].u: has 172 values; blocks.2.mlp.down_proj needs out_features = 64'],
    ['v of the wrong length', one({ ...delta, v: filled(64) }), 'interventions[0].v: has 64 values; blocks.2.mlp.down_proj needs in_features = 172'],
    ['a rank-k row of the wrong length', one({ ...delta, u: [filled(64), filled(65)], v: [filled(172), filled(172)] }), 'interventions[0].u[1]: has 65 values; blocks.2.mlp.down_proj needs out_features = 64'],
    ['u and v of different rank', one({ ...delta, u: [filled(64), filled(64)] }), "interventions[0].v: has rank 1 but u has rank 2; give one v row per u row"],
  ])('%s', (_, plan, expected) => {
    const error = rejection(plan);
    expect(error.code).toBe('bad_plan');
    expect(error.message).toContain(expected);
  });

  it('lists every problem, and gives them as details for a UI', () => {
    const error = rejection({ captures: [{ hook: 'nope' }], interventions: [{ ...add, vector: filled(3) }, { op: 'lens', layers: [9] }] });
    expect(error.message).toMatch(/^invalid plan: captures\[0\]\.hook: unknown hook 'nope'; valid: .*; interventions\[0\]\.vector: has 3 values; .*; interventions\[1\]\.layers\[0\]: block 9 is out of range/);
    expect(error.details?.issues).toEqual([
      { path: 'captures[0].hook', message: expect.stringMatching(/^unknown hook 'nope'/) },
      { path: 'interventions[0].vector', message: 'has 3 values; blocks.2.hook_resid_post needs d_model = 64' },
      { path: 'interventions[1].layers[0]', message: 'block 9 is out of range: this model has blocks 0..4' },
    ]);
  });
});

// Issue 11 items 1 and 4: huge plans were refused only after seconds and gigabytes, with a
// raw RangeError or an error listing every bad element.
// Issue 11 item 13: a request is validated once; the engine receives the validated plan.
describe('validatePlan validates once per model', () => {
  it('returns a plan it validated for this model as it is, and checks it again for another model', () => {
    const plan = validatePlan(spec, canonicalPlan());
    expect(validatePlan(spec, plan)).toBe(plan);
    const smaller = { ...spec, nLayers: 2 };
    expect(() => validatePlan(smaller, plan)).toThrow(expect.objectContaining({ code: 'bad_plan' }));
    // A look-alike that validatePlan did not return is checked in full.
    expect(validatePlan(spec, structuredClone(plan))).not.toBe(plan);
  });
});

describe('validatePlan bounds hostile plans', () => {
  it('refuses a 10^7-value vector in one issue, against the model\'s widest site', () => {
    const error = rejection({ interventions: [{ op: 'add', hook: 'blocks.2.hook_resid_post', vector: new Array(10_000_000).fill(0) }] });
    expect(error.details?.issues).toEqual([{ path: 'interventions[0].vector', message: 'has more than 512 values' }]);
  });

  it('refuses 1.5 M captures of unknown hooks in one issue', () => {
    const error = rejection({ captures: new Array(1_500_000).fill({ hook: 'blocks.0.hook_nowhere' }) });
    expect(error.details?.issues).toEqual([{ path: 'captures', message: 'has more than 10000 captures' }]);
  });

  it('lists at most 100 of many bad indices, and counts the rest', () => {
    const indices = Array.from({ length: 172 }, (_, i) => i); // d_mlp; attn.hook_z has only 8 heads
    const error = rejection({ interventions: [{ op: 'scale', hook: 'blocks.3.attn.hook_z', indices, values: [0] }] });
    const issues = error.details?.issues as { path: string; message: string }[];
    expect(issues).toHaveLength(101);
    expect(issues[0]).toEqual({ path: 'interventions[0].indices[8]', message: '8 is out of range: blocks.3.attn.hook_z has 8 heads (0..7)' });
    expect(issues[100].message).toMatch(/not listed/);
    expect(error.message).toMatch(/; and 93 more$/);
  });
});

describe('a schedule that skips blocks', () => {
  it('accepts the residual hooks of a skipped block as captures and lens layers, and positions up to n_ctx - 1', () => {
    const plan = { captures: [{ hook: 'blocks.3.hook_resid_mid' }, { hook: 'blocks.3.hook_resid_post', positions: [511] }], interventions: [{ op: 'schedule', blocks: [0, 1, 2, 4] }, { op: 'lens', layers: [3] }] };
    expect(planWarnings(validatePlan(spec, plan))).toEqual([]);
  });

  it('warns about each intervention and weight edit in a skipped block, and only those', () => {
    expect(planWarnings(validatePlan(spec, canonicalPlan()))).toEqual([{ path: 'interventions[2]', message: 'blocks.3.attn.hook_z is in block 3, which the schedule [0, 1, 1, 2, 4] skips: no effect' }]);
    const plan = validatePlan(spec, { interventions: [{ op: 'schedule', blocks: [4, 0] }, { op: 'weight_delta', param: 'blocks.1.attn.q_proj', u: filled(64), v: filled(64) }, { op: 'add', hook: 'blocks.4.hook_resid_pre', vector: filled(64) }, { op: 'weight_delta', param: 'unembed', u: filled(512), v: filled(64) }] });
    expect(planWarnings(plan)).toEqual([{ path: 'interventions[1]', message: 'blocks.1.attn.q_proj is in block 1, which the schedule [4, 0] skips: no effect' }]);
  });
});

describe('validateRunPositions', () => {
  const run = (count: number, promptLength = count) => ({ start: 0, count, promptLength });
  const check = (plan: unknown, count: number, promptLength?: number): string | null => {
    try {
      validateRunPositions(validatePlan(spec, plan), run(count, promptLength));
      return null;
    } catch (error) {
      if (error instanceof EngineError) return error.message;
      throw error;
    }
  };
  const patch = (positions: unknown, source: object) => ({ interventions: [{ op: 'patch', hook: 'blocks.2.hook_resid_pre', positions, source }] });

  it('accepts positions inside the run and patches with a row for every selected position', () => {
    expect(check(canonicalPlan(), 5)).toBeNull();
    expect(check(patch('all', { values: [filled(64), filled(64)] }), 2)).toBeNull();
    expect(check(patch('generated', { values: [filled(64)] }), 3, 2)).toBeNull();
    expect(check(patch('prompt', { prompt_ids: [1, 2] }), 3, 2)).toBeNull();
  });

  it.each<[string, unknown, number, number | undefined, string]>([
    ['a capture position past the end', { captures: [{ hook: 'logits', positions: [5] }] }, 5, undefined, 'captures[0].positions[0]: position 5 is past the end of the run (5 tokens: positions 0..4)'],
    ['an intervention position past the end', canonicalPlan(), 4, undefined, 'interventions[3].positions[1]: position 4 is past the end of the run (4 tokens: positions 0..3)'],
    ['too few rows for "all"', patch('all', { values: [filled(64)] }), 2, undefined, 'interventions[0].source.values: has 1 rows; positions "all" select 2 of the run\'s 2'],
    ['too many rows for "prompt"', patch('prompt', { values: [filled(64), filled(64)] }), 3, 1, 'has 2 rows; positions "prompt" select 1 of the run\'s 3'],
    ['rows for "generated" with nothing generated', patch('generated', { values: [filled(64)] }), 3, undefined, 'has 1 rows; positions "generated" select 0'],
    ['a source prompt shorter than "all"', patch('all', { prompt_ids: [1, 2] }), 3, undefined, 'interventions[0].source.prompt_ids: has 2 tokens; positions "all" select 3 of the run\'s 3, up to position 2, which the source run does not reach'],
  ])('refuses %s', (_, plan, count, promptLength, expected) => {
    expect(check(plan, count, promptLength)).toContain(expected);
  });
});

describe('parsePlanJson', () => {
  it('parses and validates JSON text', () => {
    expect(parsePlanJson(JSON.stringify(canonicalPlan()), spec)).toEqual(validatePlan(spec, canonicalPlan()));
  });

  it('reports malformed JSON as bad_plan with its line and column', () => {
    expect(() => parsePlanJson('{"captures": [\n  {"hook": x}]}', spec)).toThrow(
      expect.objectContaining({ code: 'bad_plan', message: expect.stringMatching(/^plan: not valid JSON at line 2, column 12: /), details: { line: 2, column: 12 } }),
    );
  });

  it('reports a valid JSON plan that does not fit the model', () => {
    expect(() => parsePlanJson('{"interventions": [{"op": "lens", "layers": [5]}]}', spec)).toThrow(/interventions\[0\]\.layers\[0\]: block 5 is out of range/);
  });
});

describe('factorRows', () => {
  it('gives weight_delta factors as k rows', () => {
    expect(factorRows([1, 2])).toEqual([[1, 2]]);
    expect(factorRows([[1, 2], [3, 4]])).toEqual([[1, 2], [3, 4]]);
  });
});

describe('planStructureKey', () => {
  const key = (edit: (plan: Plan) => void = () => {}): string => {
    const plan = planSchema.parse(canonicalPlan());
    edit(plan);
    return planStructureKey(plan);
  };
  const step = <Op extends Plan['interventions'][number]['op']>(plan: Plan, op: Op) =>
    plan.interventions.find((s) => s.op === op) as Extract<Plan['interventions'][number], { op: Op }>;

  it('spells out the structure and nothing else', () => {
    expect(JSON.parse(key())).toEqual({
      captures: [['blocks.4.hook_resid_post', 'last']],
      interventions: [
        ['add', 'blocks.2.hook_resid_post', 'all'],
        ['set', 'blocks.1.mlp.hook_post', 'all', 2],
        ['scale', 'blocks.3.attn.hook_z', 'all', 1],
        ['patch', 'blocks.2.hook_resid_pre', 'indices', 'prompt_ids'],
        ['schedule', 0, 1, 1, 2, 4],
        ['lens', 2, 3],
        ['weight_delta', 'blocks.2.mlp.down_proj', 1],
      ],
    });
  });

  it.each<[string, (plan: Plan) => void]>([
    ['a steering scale', (plan) => void (step(plan, 'add').scale = 8)],
    ["a vector's values", (plan) => void (step(plan, 'add').vector = filled(64, -3))],
    ['clamp values', (plan) => void (step(plan, 'set').values = [100, -100])],
    ['a broadcast clamp value', (plan) => void (step(plan, 'set').values = [0])],
    ['which neurons, same count', (plan) => void (step(plan, 'set').indices = [1, 2])],
    ['explicit positions, same kind', (plan) => void (step(plan, 'patch').positions = [0, 1, 2])],
    ['the patch source prompt', (plan) => void (step(plan, 'patch').source = { prompt_ids: [7, 7, 7, 7, 7, 7] })],
    ['weight delta factors', (plan) => void Object.assign(step(plan, 'weight_delta'), { u: filled(64, 2), v: filled(172, -1) })],
  ])('is unchanged by %s', (_, edit) => {
    expect(key(edit)).toBe(key());
  });

  it.each<[string, (plan: Plan) => void]>([
    ['a hook', (plan) => void (step(plan, 'add').hook = 'blocks.3.hook_resid_post')],
    ['an op', (plan) => void Object.assign(step(plan, 'set'), { op: 'scale' })],
    ['the number of indices', (plan) => void Object.assign(step(plan, 'set'), { indices: [17], values: [8] })],
    ['the positions kind', (plan) => void (step(plan, 'add').positions = 'last')],
    ['named positions to explicit ones', (plan) => void (step(plan, 'add').positions = [0])],
    ['the patch source kind', (plan) => void (step(plan, 'patch').source = { values: [filled(64), filled(64)] })],
    ['the schedule', (plan) => void (step(plan, 'schedule').blocks = [0, 1, 2, 3, 4])],
    ['the lens layers', (plan) => void (step(plan, 'lens').layers = [2])],
    ['the edited weight', (plan) => void Object.assign(step(plan, 'weight_delta'), { param: 'blocks.3.mlp.down_proj' })],
    ['the delta rank', (plan) => void Object.assign(step(plan, 'weight_delta'), { u: [filled(64), filled(64)], v: [filled(172), filled(172)] })],
    ['a capture', (plan) => void plan.captures.push({ hook: 'logits', positions: 'all' })],
    ["a capture's positions kind", (plan) => void (plan.captures[0].positions = 'all')],
    ['the order of interventions', (plan) => void plan.interventions.reverse()],
  ])('changes with %s', (_, edit) => {
    expect(key(edit)).not.toBe(key());
  });
});
