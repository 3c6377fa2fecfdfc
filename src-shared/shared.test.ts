import { describe, expect, it } from 'vitest';
import { decodingSchema } from './decoding-schema';
import { MAX_ISSUES, capIssues, countValues, dottedPath, formatPath, issueLines, safeParseBounded, zodIssues } from './issues';
import { interventionSchema, planSchema, planSchemaFor, GENERIC_LIMITS } from './plan-schema';

describe('issue wording', () => {
  it('formats and converts paths', () => {
    expect(formatPath(['interventions', 0, 'source', 'prompt_ids', 1])).toBe('interventions[0].source.prompt_ids[1]');
    expect(formatPath([], '(plan)')).toBe('(plan)');
    expect(dottedPath('interventions[0].source.prompt_ids[1]')).toBe('interventions.0.source.prompt_ids.1');
  });

  it('reports the branch of a union the input meant, and each unknown field', () => {
    const parsed = planSchema.safeParse({ interventions: [{ op: 'patch', hook: 'h', source: { prompt_ids: [1, -2] } }, { op: 'add', hook: 'h', vector: [1], colour: 'red' }] });
    expect(parsed.success).toBe(false);
    if (parsed.success) return;
    expect(zodIssues(parsed.error.issues)).toEqual([
      { path: 'interventions[0].source.prompt_ids[1]', message: 'must be a non-negative integer' },
      { path: 'interventions[1].colour', message: 'unknown field' },
    ]);
  });

  it('caps issue lists and lists a few in a message', () => {
    const many = Array.from({ length: 5000 }, (_, i) => ({ path: `x[${i}]`, message: 'bad' }));
    const capped = capIssues(many);
    expect(capped).toHaveLength(MAX_ISSUES + 1);
    expect(capped[MAX_ISSUES].message).toMatch(/not listed/);
    expect(issueLines(capped)).toMatch(/^x\[0\]: bad; .*; and 93 more$/);
  });
});

describe('bounded parsing', () => {
  it('refuses an over-long vector in one issue, before reading its elements', () => {
    const vector = Array.from({ length: 200_000 }, () => 'x');
    const schema = planSchemaFor({ ...GENERIC_LIMITS, width: 4096 }).planSchema;
    const parsed = safeParseBounded(schema, { interventions: [{ op: 'add', hook: 'h', vector }] });
    expect(parsed.success).toBe(false);
    if (!parsed.success) expect(zodIssues(parsed.error.issues)).toEqual([{ path: 'interventions[0].vector', message: 'has more than 4096 values' }]);
  });

  it('reports the first problem of a large input instead of overflowing the stack', () => {
    // Under the generic bound, 200,000 bad elements would make zod collect one issue each (and overflow).
    const vector = Array.from({ length: 200_000 }, () => 'x');
    const parsed = safeParseBounded(interventionSchema, { op: 'add', hook: 'h', vector });
    expect(parsed.success).toBe(false);
    if (!parsed.success) expect(zodIssues(parsed.error.issues)).toEqual([{ path: 'vector[0]', message: 'expected number, received string' }]);
  });

  it('parses a large valid input in full', () => {
    const vector = Array.from({ length: 100_000 }, (_, i) => i / 7);
    const parsed = safeParseBounded(interventionSchema, { op: 'add', hook: 'h', vector });
    expect(parsed.success && parsed.data.op === 'add' && parsed.data.vector.length).toBe(100_000);
  });

  it('counts values iteratively, stopping early, at any depth', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 200_000; i++) deep = [deep];
    expect(countValues(deep, 10)).toBeGreaterThan(10);
    expect(countValues({ a: [1, 2], b: { c: 3 } }, 100)).toBe(6);
    expect(countValues(Array.from({ length: 1000 }), 50)).toBeGreaterThan(50);
  });
});

describe('decoding schema', () => {
  it('says which object a bare strategy name should be', () => {
    const parsed = decodingSchema.safeParse('dola');
    expect(parsed.success).toBe(false);
    if (!parsed.success) expect(parsed.error.issues[0].message).toBe('expected an object such as {"strategy": "dola"}, not a string');
    const other = decodingSchema.safeParse({ strategy: 'beam' });
    expect(other.success).toBe(false);
    if (!other.success) expect(other.error.issues[0].message).toBe('expected strategy to be one of greedy, lfd, dola');
  });
});
