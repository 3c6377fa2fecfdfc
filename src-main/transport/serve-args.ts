/**
 * `npm run serve` options, parsed with node:util and validated with zod (as the CLI's
 * are). Defaults are declared here and printed by the usage text.
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { DEFAULT_ACCURACY_LEVEL, DEFAULT_BLOCK_SIZE, EXECUTION_PROVIDERS, WEIGHT_FORMATS } from '../engine/api';

export const SERVE_USAGE = `Usage: npm run serve -- [options]

Starts the engine without a window and prints the URL of its UI:
  Tiller engine: http://127.0.0.1:PORT/?token=TOKEN

  --port N              port on 127.0.0.1 (default: a free one)
  --model PATH          load this model at start (a Hugging Face folder or a llama2.c .bin)
  --weights FORMAT      its weight format: ${WEIGHT_FORMATS.join(' | ')} (default f32; the app's model panel picks per load)
  --block-size N        int8/int4: weights per quantization block, a power of two >= 16 (default ${DEFAULT_BLOCK_SIZE})
  --accuracy-level N    int8/int4: MatMulNBits accuracy_level 0-4 (default ${DEFAULT_ACCURACY_LEVEL}: int8 activations)
  --cache-dir DIR       weight and graph cache (default: TILLER_CACHE_DIR or the user's cache folder)
  --app-data DIR        recent files, autosave, downloaded models (default: TILLER_APP_DATA or the user's app-data folder)
  --threads N           inference threads (default: all logical cores)
  --ep NAME             execution provider: ${EXECUTION_PROVIDERS.join(' | ')} (default cpu)
  --allow-origin URL    also accept API connections from this origin (e.g. a Vite dev server); repeatable
  -h, --help            this text
`;

const integer = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

const origin = z.string().refine((value) => {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === value;
  } catch {
    return false;
  }
}, 'must be an origin such as http://localhost:5173 (scheme, host and port; no path)');

export const serveArgsSchema = z.strictObject({
  port: integer(0, 65535).default(0),
  model: z.string().min(1, 'needs a path').optional(),
  weights: z.enum(WEIGHT_FORMATS).default('f32'),
  blockSize: integer(16, 4096).refine((n) => (n & (n - 1)) === 0, 'must be a power of two').optional(),
  accuracyLevel: integer(0, 4).optional(),
  cacheDir: z.string().min(1, 'needs a folder').optional(),
  appData: z.string().min(1, 'needs a folder').optional(),
  threads: integer(1, 256).optional(),
  ep: z.enum(EXECUTION_PROVIDERS).default('cpu'),
  allowOrigin: z.array(origin).default([]),
  help: z.boolean().default(false),
});

export type ServeArgs = z.infer<typeof serveArgsSchema>;

const FLAGS = {
  port: { type: 'string' },
  model: { type: 'string' },
  weights: { type: 'string' },
  'block-size': { type: 'string' },
  'accuracy-level': { type: 'string' },
  'cache-dir': { type: 'string' },
  'app-data': { type: 'string' },
  threads: { type: 'string' },
  ep: { type: 'string' },
  'allow-origin': { type: 'string', multiple: true },
  help: { type: 'boolean', short: 'h' },
} as const;

const camel = (flag: string): string => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** The options, or an error message naming the bad flag. */
export function parseServeArgs(argv: string[]): { ok: true; args: ServeArgs } | { ok: false; message: string } {
  let values: Record<string, unknown>;
  try {
    values = parseArgs({ args: argv, options: FLAGS, allowPositionals: false, strict: true }).values;
  } catch (error) {
    return { ok: false, message: (error as Error).message };
  }
  const flags = Object.fromEntries(Object.entries(values).map(([key, value]) => [camel(key), value]));
  const result = serveArgsSchema.safeParse(flags);
  if (result.success) return { ok: true, args: result.data };
  const flag = (key: PropertyKey): string => `--${String(key).replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
  return { ok: false, message: result.error.issues.map((issue) => (issue.path.length ? `${flag(issue.path[0])}: ${issue.message}` : issue.message)).join('\n') };
}
