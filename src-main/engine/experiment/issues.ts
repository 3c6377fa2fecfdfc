/**
 * Validation problems in an experiment document, each located by its JSON path
 * ("variants[1].interventions[0].scale: expected number, received string"), and the one
 * error they are reported as. The wording is src-shared/issues.ts's, shared with plans
 * and the renderer.
 */
import { capIssues, issueLines, zodIssues as sharedZodIssues, type Issue } from '../../../src-shared/issues';
import type { z } from 'zod';
import { EngineError } from '../errors';

export type DocumentIssue = Issue;

/** EngineError('bad_experiment') "<file>: <what>: path: message; ..." with details.issues. */
export function documentError(file: string, what: string, all: DocumentIssue[]): EngineError {
  const issues = capIssues(all);
  return new EngineError('bad_experiment', `${file}: ${what}: ${issueLines(issues)}`, { issues });
}

/** zod's issues located in the document; the document itself is "(document)". */
export function zodIssues(issues: readonly z.core.$ZodIssue[]): DocumentIssue[] {
  return sharedZodIssues(issues, [], '(document)');
}
