/**
 * Validation problems in an experiment document, each located by its JSON path
 * ("variants[1].interventions[0].scale: expected number, received string"), and the one
 * error they are reported as.
 */
import type { z } from 'zod';
import { EngineError } from '../errors';

export interface DocumentIssue {
  path: string;
  message: string;
}

/** The message lists this many issues; details.issues has all of them. */
const LISTED_ISSUES = 8;

/** EngineError('bad_experiment') "<file>: <what>: path: message; ..." with details.issues. */
export function documentError(file: string, what: string, issues: DocumentIssue[]): EngineError {
  const listed = issues.slice(0, LISTED_ISSUES).map((issue) => `${issue.path}: ${issue.message}`);
  if (issues.length > LISTED_ISSUES) listed.push(`and ${issues.length - LISTED_ISSUES} more`);
  return new EngineError('bad_experiment', `${file}: ${what}: ${listed.join('; ')}`, { issues });
}

type ZodIssue = z.core.$ZodIssue;

export function zodIssues(issues: readonly ZodIssue[], base: readonly PropertyKey[] = []): DocumentIssue[] {
  return issues.flatMap((issue): DocumentIssue[] => {
    const path = [...base, ...issue.path];
    if (issue.code === 'invalid_union') {
      const branch = likelyBranch(issue.errors);
      if (branch) return zodIssues(branch, path);
    }
    // One issue per unknown key, at the key itself, so the message names the field.
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ path: formatPath([...path, key]), message: 'unknown field' }));
    }
    return [{ path: formatPath(path), message: plainMessage(issue.message) }];
  });
}

/** zod's "Invalid input: expected number, received undefined" -> "missing (expected number)". */
function plainMessage(message: string): string {
  const text = message.replace(/^Invalid input: /, '');
  const missing = /^expected (.+), received undefined$/.exec(text);
  return missing ? `missing (expected ${missing[1]})` : text;
}

/**
 * zod reports a failed union as one issue holding every branch's issues. When the input
 * evidently meant one branch (its issues all lie inside the value, and it has the
 * fewest), report that branch's issues: "source.values[0][0]: expected number".
 */
function likelyBranch(branches: ZodIssue[][]): ZodIssue[] | null {
  const inside = branches.filter((issues) => issues.every((issue) => issue.path.length > 0));
  if (inside.length === 0) return null;
  const fewest = Math.min(...inside.map((issues) => issues.length));
  const best = inside.filter((issues) => issues.length === fewest);
  return best.length === 1 ? best[0] : null;
}

/** ["variants", 1, "scale"] -> "variants[1].scale"; the document itself is "(document)". */
export function formatPath(path: readonly PropertyKey[]): string {
  let text = '';
  for (const key of path) text += typeof key === 'number' ? `[${key}]` : `${text ? '.' : ''}${String(key)}`;
  return text || '(document)';
}
