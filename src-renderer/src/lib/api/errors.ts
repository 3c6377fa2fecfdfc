/**
 * An engine error as the renderer sees it: the `{ code, message, details }` a transport
 * carried, as a real Error so `catch` blocks and stack traces behave.
 */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    /** An EngineErrorCode ('bad_plan', 'not_found', ...), 'internal', or a transport code. */
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** Codes the renderer's transports produce themselves (no engine involved). */
export const TRANSPORT_CLOSED = 'transport_closed';
export const BAD_REPLY = 'bad_reply';

/** A message for the user from anything thrown. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/** "path: message" lines from an error's details.issues, when the engine sent them. */
export function issueLines(error: unknown): string[] {
  if (!(error instanceof ApiError) || !error.details) return [];
  const issues = error.details.issues;
  if (!Array.isArray(issues)) return [];
  return issues.flatMap((issue: unknown) => {
    if (typeof issue !== 'object' || issue === null) return [];
    const { path, message } = issue as { path?: unknown; message?: unknown };
    return typeof message === 'string' ? [typeof path === 'string' && path ? `${path}: ${message}` : message] : [];
  });
}

/**
 * The error's message without the issue list it repeats when details.issues carries the
 * same list (shown as separate lines beside it): "a.json: invalid experiment".
 */
export function errorHeadline(error: unknown): string {
  const message = errorMessage(error);
  const lines = issueLines(error);
  const start = lines.length > 0 ? message.indexOf(lines[0]) : -1;
  return start > 0 ? message.slice(0, start).replace(/[\s:;]+$/, '') : message;
}
