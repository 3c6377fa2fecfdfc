/**
 * The one place a message from a client becomes a call on the engine. Both transports
 * use it: the WebSocket server for each text frame, and the app for each renderer IPC
 * call (in main, before relaying) and each relayed request (in the engine process).
 *
 * A message must be {"kind":"request","id":<int>,"method":<WorkbenchMethod>,"params":{...}};
 * params are parsed with requestSchemas[method]. Anything else is answered with an error
 * of code 'bad_request' that names the method and the field, and never reaches the engine.
 */
import { z } from 'zod';
import { dottedPath, issueLines, zodIssues } from '../../src-shared/issues';
import { parseParams, requestSchemas, serializeError, type WireError, type WireRequest, type WireResponse, type WorkbenchApi, type WorkbenchMethod } from '../engine/api';

const METHODS = Object.keys(requestSchemas) as WorkbenchMethod[];

const envelopeSchema = z.strictObject({
  kind: z.literal('request'),
  id: z.int().min(0).max(Number.MAX_SAFE_INTEGER),
  method: z.string(),
  params: z.unknown().optional(),
});

export type ParsedRequest = { ok: true; request: WireRequest } | { ok: false; response: WireResponse };

const badRequest = (id: number | null, message: string, details?: Record<string, unknown>): ParsedRequest => ({
  ok: false,
  response: { kind: 'response', id, ok: false, error: { code: 'bad_request', message, ...(details ? { details } : {}) } },
});

/**
 * Parse one message: raw JSON text (WebSocket) or an already-decoded value (IPC).
 * On success params are the schema's output, defaults filled in.
 */
export function parseRequest(message: unknown): ParsedRequest {
  let value = message;
  if (typeof message === 'string') {
    try {
      value = JSON.parse(message);
    } catch (error) {
      return badRequest(null, `message is not valid JSON: ${(error as Error).message}`);
    }
  }
  const envelope = envelopeSchema.safeParse(value);
  if (!envelope.success) {
    const id = typeof (value as { id?: unknown } | null)?.id === 'number' && Number.isInteger((value as { id: number }).id) ? (value as { id: number }).id : null;
    return badRequest(id, `malformed request: ${issueLines(zodIssues(envelope.error.issues, [], '(request)'))}`);
  }
  const { id, method } = envelope.data;
  if (!(METHODS as string[]).includes(method)) return badRequest(id, `unknown method "${method}" (methods: ${METHODS.join(', ')})`);
  const params = parseParams(method as WorkbenchMethod, envelope.data.params);
  if (!params.success) {
    const issues = zodIssues(params.error.issues, [], '(params)');
    return badRequest(id, `${method}: invalid params: ${issueLines(issues)}`, { method, issues: issues.map((issue) => ({ ...issue, path: dottedPath(issue.path) })) });
  }
  return { ok: true, request: { kind: 'request', id, method: method as WorkbenchMethod, params: params.data } };
}

/** What the engine answers for an error thrown by a method. */
export function errorResponse(id: number, error: unknown): WireResponse {
  const serialized: WireError = serializeError(error);
  return { kind: 'response', id, ok: false, error: serialized };
}

/** Call the method a parsed request names. The params were parsed with that method's schema. */
export async function invoke(api: WorkbenchApi, request: WireRequest): Promise<WireResponse> {
  try {
    const method = api[request.method] as (params: unknown) => Promise<unknown>;
    const result = await method.call(api, request.params);
    return { kind: 'response', id: request.id, ok: true, result: result ?? null };
  } catch (error) {
    return errorResponse(request.id, error);
  }
}

/**
 * Parse and, if well-formed, invoke: the whole path from a client message to its response.
 * Never rejects: whatever a message makes go wrong is answered, so one client cannot
 * take the server down.
 */
export async function dispatch(api: WorkbenchApi, message: unknown): Promise<WireResponse> {
  let parsed: ParsedRequest;
  try {
    parsed = parseRequest(message);
  } catch (error) {
    return { kind: 'response', id: null, ok: false, error: serializeError(error) };
  }
  return parsed.ok ? invoke(api, parsed.request) : parsed.response;
}
