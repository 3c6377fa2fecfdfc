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

  it('keeps a wrongly shaped op out of the variant, saying which field is wrong', () => {
    expect(error('{not json')).toMatch(/^not JSON/);
    expect(error('[1]')).toBe('must be a JSON object');
    expect(error('{"hook":"h"}')).toBe('needs an "op" field');
    expect(error('{"op":"nonsense"}')).toMatch(/^op: expected one of add, set/);
    expect(error('{"op":"add","hook":"h"}')).toMatch(/^vector: missing/);
    expect(error('{"op":"add","hook":"h","vector":"1,2"}')).toBe('vector: must be a list of numbers');
    expect(error('{"op":"add","hook":"h","vector":[1,"x"]}')).toBe('vector.1: must be a number');
    expect(error('{"op":"add","hook":"h","vector":[1],"positions":"first"}')).toMatch(/^positions: expected one of "all"/);
    expect(error('{"op":"add","hook":"h","vector":[1],"gain":2}')).toBe('gain: not a field of a add op');
    expect(error('{"op":"set","hook":"h","indices":[-1],"values":[0]}')).toBe('indices.0: must be a non-negative integer');
    expect(error('{"op":"patch","hook":"h","source":[1]}')).toMatch(/^source: expected/);
    expect(error('{"op":"patch","hook":"h","source":{"prompt_ids":[1],"values":[[1]]}}')).toMatch(/^source: expected/);
  });
});
