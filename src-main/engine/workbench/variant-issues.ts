/**
 * A variant's problems as { path, message } pairs the UI can put next to the field:
 * the document schema first, then its interventions against the loaded model
 * (hooks/plan.ts validatePlan) and its decoding layers against the model's depth.
 */
import type { z } from 'zod';
import { EngineError } from '../errors';
import type { Decoding } from '../generate/decoding-options';
import { variantSchema, type Variant } from '../experiment/schema';
import { validatePlan } from '../hooks/plan';
import type { ModelSpec } from '../model/spec';
import type { VariantIssue } from './protocol';

/** "interventions[0].vector" (plan.ts's form) -> "interventions.0.vector" (the API's dotted form). */
export function dottedPath(path: string): string {
  return path.replace(/\[(\d+)\]/g, '.$1').replace(/^\./, '');
}

export function zodIssues(error: z.ZodError): VariantIssue[] {
  return error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }));
}

/** Problems of `input`; with no model loaded only the schema can be checked. */
export function variantIssues(spec: ModelSpec | null, input: unknown): VariantIssue[] {
  const parsed = variantSchema.safeParse(input);
  if (!parsed.success) return zodIssues(parsed.error);
  if (!spec) return [];
  return [...planIssues(spec, parsed.data), ...decodingIssues(spec, parsed.data.decoding)];
}

function planIssues(spec: ModelSpec, variant: Variant): VariantIssue[] {
  try {
    validatePlan(spec, { interventions: variant.interventions });
    return [];
  } catch (error) {
    const issues = error instanceof EngineError ? (error.details?.issues as { path: string; message: string }[] | undefined) : undefined;
    if (!issues) throw error;
    return issues.map((issue) => ({ path: dottedPath(issue.path), message: issue.message }));
  }
}

/**
 * Lens layers are hidden-state indices (generate/decoding-options.ts): 0 is hook_embed,
 * N the final layer. Candidate and premature layers must come before the final one.
 */
function decodingIssues(spec: ModelSpec, decoding: Decoding): VariantIssue[] {
  const layers = decoding.strategy === 'lfd' ? decoding.candidateLayers : decoding.strategy === 'dola' && Array.isArray(decoding.layers) ? decoding.layers : undefined;
  if (!layers) return [];
  const field = decoding.strategy === 'lfd' ? 'candidateLayers' : 'layers';
  const last = spec.nLayers - 1;
  return layers.flatMap((layer, i) =>
    layer > last ? [{ path: `decoding.${field}.${i}`, message: `layer ${layer} is out of range: this model's intermediate layers are 0..${last} (${spec.nLayers} is the final layer)` }] : [],
  );
}
