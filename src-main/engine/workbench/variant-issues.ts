/**
 * A variant's problems as { path, message } pairs the UI can put next to the field:
 * the document schema first, then its interventions against the loaded model
 * (hooks/plan.ts validatePlan) and its decoding strategy against the model and the
 * plan's schedule (generate/scorers.ts decodingReport). These are the checks generation
 * itself runs, so a variant without errors generates. Warnings (severity 'warning') mark
 * parts that run but have no effect, e.g. an intervention in a block the schedule skips.
 */
import { dottedPath, safeParseBounded, zodIssues } from '../../../src-shared/issues';
import { EngineError } from '../errors';
import { decodingReport } from '../generate/scorers';
import { variantSchema, type Variant } from '../experiment/schema';
import { planWarnings, validatePlan, type Plan } from '../hooks/plan';
import { planScheduleBlocks } from '../hooks/schedule';
import type { ModelSpec } from '../model/spec';
import type { VariantIssue } from './protocol';

/** Problems of `input`, errors then warnings; with no model loaded only the schema can be checked. */
export function variantIssues(spec: ModelSpec | null, input: unknown): VariantIssue[] {
  const parsed = safeParseBounded(variantSchema, input);
  if (!parsed.success) return zodIssues(parsed.error.issues).map((issue) => ({ ...issue, path: dottedPath(issue.path) }));
  return spec ? variantReport(spec, parsed.data).issues : [];
}

/**
 * A parsed variant checked against the model: its plan (null when invalid) and its
 * problems, errors then warnings. Workbench.generate hands the plans on to the engine,
 * which then does not check them again (validatePlan).
 */
export function variantReport(spec: ModelSpec, variant: Variant): { plan: Plan | null; issues: VariantIssue[] } {
  const { plan, errors } = checkPlan(spec, variant);
  // An invalid plan still lets the decoding be checked, against no schedule.
  const decoding = decodingReport(spec, variant.decoding, plan && planScheduleBlocks(plan));
  const at = (prefix: string, severity?: 'warning') => (issue: { path: string; message: string }): VariantIssue => ({
    path: dottedPath(`${prefix}${issue.path}`),
    message: issue.message,
    ...(severity ? { severity } : {}),
  });
  const issues = [
    ...errors,
    ...decoding.errors.map(at('decoding.')),
    ...(plan ? planWarnings(plan) : []).map(at('', 'warning')),
    ...decoding.warnings.map(at('decoding.', 'warning')),
  ];
  return { plan, issues };
}

/** The variant's interventions as a valid plan, or null and their problems. */
function checkPlan(spec: ModelSpec, variant: Variant): { plan: Plan | null; errors: VariantIssue[] } {
  try {
    return { plan: validatePlan(spec, { interventions: variant.interventions }), errors: [] };
  } catch (error) {
    const issues = error instanceof EngineError ? (error.details?.issues as { path: string; message: string }[] | undefined) : undefined;
    if (!issues) throw error;
    return { plan: null, errors: issues.map((issue) => ({ path: dottedPath(issue.path), message: issue.message })) };
  }
}
