/** `npm run serve` flags: defaults, validation messages that name the flag. */
import { describe, expect, it } from 'vitest';
import { parseServeArgs } from './serve-args';

describe('serve arguments', () => {
  it('has defaults: a free port, cpu, no model', () => {
    expect(parseServeArgs([])).toEqual({ ok: true, args: { port: 0, ep: 'cpu', weights: 'f32', allowOrigin: [], help: false } });
  });

  it('reads every flag', () => {
    const parsed = parseServeArgs(['--port', '8123', '--model', 'm', '--weights', 'int4', '--block-size', '64', '--accuracy-level', '0', '--cache-dir', 'c', '--app-data', 'a', '--threads', '2', '--allow-origin', 'http://localhost:5173']);
    expect(parsed).toEqual({
      ok: true,
      args: { port: 8123, model: 'm', weights: 'int4', blockSize: 64, accuracyLevel: 0, cacheDir: 'c', appData: 'a', threads: 2, ep: 'cpu', allowOrigin: ['http://localhost:5173'], help: false },
    });
  });

  it('names the flag that is wrong', () => {
    const message = (argv: string[]): string => {
      const parsed = parseServeArgs(argv);
      return parsed.ok ? '' : parsed.message;
    };
    expect(message(['--port', 'eighty'])).toBe('--port: must be a whole number');
    expect(message(['--port', '70000'])).toBe('--port: must be at most 65535');
    expect(message(['--threads', '0'])).toBe('--threads: must be at least 1');
    expect(message(['--ep', 'tpu'])).toMatch(/^--ep: /);
    expect(message(['--weights', 'int3'])).toMatch(/^--weights: /);
    expect(message(['--block-size', '48'])).toBe('--block-size: must be a power of two');
    expect(message(['--accuracy-level', '5'])).toBe('--accuracy-level: must be at most 4');
    expect(message(['--allow-origin', 'http://localhost:5173/app'])).toMatch(/^--allow-origin: must be an origin/);
    expect(message(['--model'])).toContain("'--model");
    expect(message(['--verbose'])).toContain("'--verbose'");
    expect(message(['extra'])).toContain('extra');
  });
});
