/**
 * An intervention typed as JSON, checked for shape before it enters the variant. The
 * forms trust the fields of the op they edit (a steering form formats its `positions`,
 * a patch form looks inside `source`), so a half-right op must stay in the JSON editor,
 * with a message, rather than reach a form and throw there.
 *
 * The shape is the engine's own: the plan schema and the issue wording both come from
 * src-shared, so the defaults filled in and the messages shown are the engine's. The
 * engine still checks the op against the model.
 */
import { safeParseBounded, issueLines, zodIssues } from '../../../../src-shared/issues';
import { parseJson } from '../../../../src-shared/json-syntax';
import { interventionSchema } from '../../../../src-shared/plan-schema';
import type { Intervention } from '../api/types';

export type ParsedOp = { value: Intervention } | { error: string };

export function parseInterventionJson(text: string): ParsedOp {
  const json = parseJson(text);
  if (!json.ok) return { error: json.message };
  const parsed = safeParseBounded(interventionSchema, json.value);
  if (parsed.success) return { value: parsed.data };
  return { error: issueLines(zodIssues(parsed.error.issues, [], '(the op)')) };
}
