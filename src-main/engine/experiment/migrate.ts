/**
 * Forward migration of experiment documents. Every file names its format and version;
 * a version older than EXPERIMENT_VERSION is upgraded one step at a time, so each step
 * only knows two adjacent versions and old steps never change.
 *
 * Version 0 is the draft format of the first previews:
 *
 *   { "format": "tiller-experiment", "version": 0,
 *     "name"?: string,
 *     "savedAt": string,                          -> createdAt and updatedAt
 *     "model": { ...as in v1 } | null,
 *     "prompt": string,                           -> { "text": prompt, "chat": false }
 *     "settings": { "max_tokens"?, ...v1 names }, -> max_tokens renamed maxNewTokens
 *     "variants": [ { "id", "name",
 *                     "steering": { "hook", "vector", "scale" } | null } ] }
 *                                                 -> interventions: [ add at all positions ] or []
 *
 * Version 0 cached no results, so a migrated file has none until it is run again.
 */
import { z } from 'zod';
import { safeParseBounded } from '../../../src-shared/issues';
import { EngineError } from '../errors';
import { documentError, zodIssues } from './issues';
import { EXPERIMENT_FORMAT, EXPERIMENT_VERSION } from './schema';

export const OLDEST_EXPERIMENT_VERSION = 0;

type Document = Record<string, unknown>;

/**
 * The format version of a parsed document, after checking it is a Tiller experiment this
 * Tiller can read. Run before anything else touches the document, so a file from a newer
 * Tiller, or some other JSON, gets that said plainly instead of a list of field errors.
 */
export function experimentVersion(document: unknown, file: string): number {
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw new EngineError('bad_experiment', `${file}: not a Tiller experiment (expected a JSON object)`);
  }
  const { format, version } = document as Document;
  if (format !== EXPERIMENT_FORMAT) {
    // The value is not quoted: the file may be anyone's JSON, and its content is not ours to echo.
    const found = format === undefined ? 'has no "format"' : `has another "format" (a ${typeof format})`;
    throw new EngineError('bad_experiment', `${file}: not a Tiller experiment: it ${found}, expected "${EXPERIMENT_FORMAT}"`);
  }
  if (!Number.isSafeInteger(version) || (version as number) < OLDEST_EXPERIMENT_VERSION) {
    throw new EngineError('bad_experiment', `${file}: version: expected a whole number from ${OLDEST_EXPERIMENT_VERSION}, found ${typeof version === 'number' ? version : `a ${typeof version}`}`);
  }
  if ((version as number) > EXPERIMENT_VERSION) {
    throw new EngineError(
      'bad_experiment',
      `${file} was made by a newer Tiller (experiment format version ${version}); this Tiller reads versions up to ${EXPERIMENT_VERSION}. Update Tiller to open it.`,
      { version, supported: EXPERIMENT_VERSION },
    );
  }
  return version as number;
}

/** Upgrade a document of version `from` to EXPERIMENT_VERSION; the result still needs validating. */
export function migrateExperiment(document: Document, from: number, file: string): Document {
  let current = document;
  for (let version = from; version < EXPERIMENT_VERSION; version++) current = STEPS[version](current, file);
  return current;
}

/** STEPS[v] turns version v into version v + 1. */
const STEPS: Record<number, (document: Document, file: string) => Document> = {
  0: version0To1,
};

// Only the fields this step rewrites are checked in full; the rest is checked by the v1 schema.
const steeringV0 = z.strictObject({ hook: z.string(), vector: z.array(z.number()), scale: z.number() });
const documentV0 = z.strictObject({
  format: z.literal(EXPERIMENT_FORMAT),
  version: z.literal(0),
  name: z.string().optional(),
  savedAt: z.string(),
  model: z.unknown(),
  prompt: z.string(),
  settings: z.record(z.string(), z.unknown()),
  variants: z.array(z.strictObject({ id: z.string(), name: z.string(), steering: steeringV0.nullable() })),
});

function version0To1(document: Document, file: string): Document {
  const parsed = safeParseBounded(documentV0, document);
  if (!parsed.success) throw documentError(file, 'invalid experiment (format version 0)', zodIssues(parsed.error.issues));
  const old = parsed.data;
  const { max_tokens: maxTokens, ...settings } = old.settings;
  return {
    format: EXPERIMENT_FORMAT,
    version: 1,
    ...(old.name === undefined ? {} : { name: old.name }),
    createdAt: old.savedAt,
    updatedAt: old.savedAt,
    model: old.model,
    prompt: { text: old.prompt, chat: false },
    settings: maxTokens === undefined ? settings : { maxNewTokens: maxTokens, ...settings },
    variants: old.variants.map(({ id, name, steering }) => ({
      id,
      name,
      interventions: steering ? [{ op: 'add', hook: steering.hook, vector: steering.vector, scale: steering.scale, positions: 'all' }] : [],
    })),
    results: null,
  };
}
