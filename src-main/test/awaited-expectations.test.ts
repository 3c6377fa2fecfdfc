/**
 * An async expectation that is not awaited checks nothing: the test ends first and a
 * failure surfaces later, if at all, as an unhandled rejection. This test reads every
 * test file and names each statement that calls an async expectation without `await`
 * (or `return`).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(__dirname, '..', '..');

function testFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === 'node_modules') return [];
    if (statSync(path).isDirectory()) return testFiles(path);
    return /\.test\.ts$/.test(name) ? [path] : [];
  });
}

// Statements that start with a call returning a promise of an assertion.
const ASYNC_EXPECTATION = [
  /^expectGreedyAgrees\(/, // interventions.test.ts
  /^expectEngineError\(/, // expect-engine-error.ts
  /^expect\(.*\)\s*\.(resolves|rejects)\b/,
  /^vi\.waitFor\(/,
];

function unawaited(text: string): number[] {
  const lines: number[] = [];
  text.split('\n').forEach((line, i) => {
    if (ASYNC_EXPECTATION.some((pattern) => pattern.test(line.trim()))) lines.push(i + 1);
  });
  return lines;
}

describe('async expectations', () => {
  it('are awaited in every test file', () => {
    const found = testFiles(join(ROOT, 'src-main')).flatMap((file) => unawaited(readFileSync(file, 'utf8')).map((line) => `${relative(ROOT, file)}:${line}`));
    expect(found).toEqual([]);
  });

  it('are recognised when not awaited, and not when awaited or returned', () => {
    expect(unawaited('  expectGreedyAgrees(results[0], f);\n  await expectGreedyAgrees(results[0], f);\n  return expectEngineError(() => x, "bad_plan");')).toEqual([1]);
    // Split so that this file's own lines do not match.
    expect(unawaited(['expect(promise)', '.rejects.toThrow("x");\nawait expect(promise)', '.resolves.toBe(1);'].join(''))).toEqual([1]);
  });
});
