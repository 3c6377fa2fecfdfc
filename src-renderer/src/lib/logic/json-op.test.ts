import { describe, expect, it } from 'vitest';
import { formKindOf } from './interventions';
import { parseInterventionJson } from './json-op';

const ok = (text: string) => {
  const parsed = parseInterventionJson(text);
  if (!('value' in parsed)) throw new Error(`expected an op, got: ${parsed.error}`);
  return parsed.value;
};
const error = (text: string) => {
  const parsed = parseInterventionJson(text);
  if (!('error' in parsed)) throw new Error(`expected an error, got ${JSON.stringify(parsed.value)}`);
  return parsed.error;
};

describe('an intervention typed as JSON', () => {
  it('fills in the defaults the engine’s schema has, so the form it becomes has every field', () => {
    // The exploratory tester's paste: no positions. The steering form formatted undefined and threw.
    const step = ok('{"op":"add","hook":"blocks.9.hook_resid_post","vector":[1,2],"scale":1}');
    expect(step).toEqual({ op: 'add', hook: 'blocks.9.hook_resid_post', vector: [1, 2], scale: 1, positions: 'all' });
    expect(formKindOf(step)).toBe('steering');
    expect(ok('{"op":"add","hook":"h","vector":[1]}')).toMatchObject({ scale: 1 });
    expect(ok('{"op":"set","hook":"blocks.1.mlp.hook_post","indices":[3],"values":[2]}')).toMatchObject({ positions: 'all' });
    expect(ok('{"op":"patch","hook":"blocks.1.hook_resid_pre","source":{"prompt_ids":[1,2]}}')).toMatchObject({ positions: 'all' });
  });

  it('accepts every op of the plan format', () => {
    expect(ok('{"op":"scale","hook":"blocks.1.attn.hook_z","indices":[0],"values":[0],"positions":[0,2]}')).toMatchObject({ positions: [0, 2] });
    expect(ok('{"op":"patch","hook":"blocks.1.hook_resid_pre","positions":"last","source":{"values":[[1,2]]}}')).toMatchObject({ source: { values: [[1, 2]] } });
    expect(ok('{"op":"schedule","blocks":[0,2,2]}')).toEqual({ op: 'schedule', blocks: [0, 2, 2] });
    expect(ok('{"op":"lens","layers":[2,3]}')).toEqual({ op: 'lens', layers: [2, 3] });
    expect(ok('{"op":"weight_delta","param":"blocks.2.mlp.down_proj","u":[1,2],"v":[[3],[4]]}')).toMatchObject({ u: [1, 2], v: [[3], [4]] });
  });

  it('keeps a wrongly shaped op out of the variant, saying which field is wrong in the engine’s words', () => {
    expect(error('{not json')).toMatch(/^not valid JSON at line 1, column 2: /);
    expect(error('{"op":"add",\n "hook":"h",\n "vector":[1,]}')).toMatch(/^not valid JSON at line 3, column 14/);
    expect(error('[1]')).toBe('(the op): expected object, received array');
    expect(error('{"hook":"h"}')).toMatch(/^op: expected op to be one of add, set/);
    expect(error('{"op":"nonsense"}')).toMatch(/^op: expected op to be one of add, set/);
    expect(error('{"op":"add","hook":"h"}')).toBe('vector: missing (expected array)');
    expect(error('{"op":"add","hook":"h","vector":"1,2"}')).toBe('vector: expected array, received string');
    expect(error('{"op":"add","hook":"h","vector":[1,"x"]}')).toBe('vector[1]: expected number, received string');
    expect(error('{"op":"add","hook":"h","vector":[1],"positions":"first"}')).toMatch(/^positions: expected one of "all"/);
    expect(error('{"op":"add","hook":"h","vector":[1],"gain":2}')).toBe('gain: unknown field');
    expect(error('{"op":"set","hook":"h","indices":[-1],"values":[0]}')).toBe('indices[0]: must be a non-negative integer');
    expect(error('{"op":"patch","hook":"h","source":[1]}')).toMatch(/^source: expected/);
    expect(error('{"op":"patch","hook":"h","source":{"prompt_ids":[1],"values":[[1]]}}')).toMatch(/^source: expected/);
  });

  it('refuses what the engine refuses: empty vectors and repeated indices (the copy this replaced accepted both)', () => {
    expect(error('{"op":"add","hook":"h","vector":[]}')).toBe('vector: must not be empty');
    expect(error('{"op":"set","hook":"h","indices":[1,1],"values":[0]}')).toBe('indices: must not repeat an index');
    expect(error('{"op":"patch","hook":"h","positions":[2,2],"source":{"prompt_ids":[1,2,3]}}')).toBe('positions: must not repeat an index');
  });
});
