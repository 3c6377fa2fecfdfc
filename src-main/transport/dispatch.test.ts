/** The shared dispatcher: malformed messages never reach the engine, and say what is wrong. */
import { describe, expect, it } from 'vitest';
import { EngineError, parseParams, requestSchemas, type WireResponse, type WorkbenchApi, type WorkbenchMethod } from '../engine/api';
import { dispatch, parseRequest } from './dispatch';

/** An API that records what reaches it; `answer` decides what each method returns or throws. */
function recordingApi(answer: (method: WorkbenchMethod, params: unknown) => unknown = () => undefined): { api: WorkbenchApi; calls: [string, unknown][] } {
  const calls: [string, unknown][] = [];
  const methods = Object.fromEntries(
    (Object.keys(requestSchemas) as WorkbenchMethod[]).map((method) => [
      method,
      async (params: unknown) => {
        calls.push([method, params]);
        return answer(method, params);
      },
    ]),
  );
  return { api: { ...methods, onEvent: () => () => undefined } as unknown as WorkbenchApi, calls };
}

function expectBadRequest(response: WireResponse, id: number | null, ...fragments: string[]): void {
  expect(response.ok).toBe(false);
  if (response.ok) return;
  expect(response.id).toBe(id);
  expect(response.error.code).toBe('bad_request');
  for (const fragment of fragments) expect(response.error.message).toContain(fragment);
}

describe('dispatch', () => {
  it('rejects text that is not JSON', async () => {
    const { api, calls } = recordingApi();
    expectBadRequest(await dispatch(api, '{"kind": "request", '), null, 'not valid JSON');
    expect(calls).toEqual([]);
  });

  it('rejects a request without an id, answering with id null', async () => {
    const { api, calls } = recordingApi();
    expectBadRequest(await dispatch(api, JSON.stringify({ kind: 'request', method: 'status', params: {} })), null, 'id');
    expectBadRequest(await dispatch(api, JSON.stringify({ kind: 'request', id: 1.5, method: 'status' })), null, 'id');
    expect(calls).toEqual([]);
  });

  it('rejects a message that is not a request, keeping its id', async () => {
    const { api } = recordingApi();
    expectBadRequest(await dispatch(api, { kind: 'response', id: 4, method: 'status' }), 4, 'kind');
    expectBadRequest(await dispatch(api, { kind: 'request', id: 5, method: 'status', params: {}, extra: true }), 5, 'extra');
    expectBadRequest(await dispatch(api, [1, 2]), null, 'malformed request');
  });

  it('rejects an unknown method, listing the methods', async () => {
    const { api, calls } = recordingApi();
    const response = await dispatch(api, { kind: 'request', id: 2, method: 'deleteEverything', params: {} });
    expectBadRequest(response, 2, 'unknown method "deleteEverything"', 'loadModel', 'generate');
    // onEvent is a local subscription, not a method a client may call.
    expectBadRequest(await dispatch(api, { kind: 'request', id: 3, method: 'onEvent', params: {} }), 3, 'unknown method "onEvent"');
    expect(calls).toEqual([]);
  });

  it('rejects bad params naming the method and the field', async () => {
    const { api, calls } = recordingApi();
    const numberPath = await dispatch(api, { kind: 'request', id: 7, method: 'loadModel', params: { path: 42 } });
    expectBadRequest(numberPath, 7, 'loadModel', 'path');
    const unknownSetting = await dispatch(api, {
      kind: 'request',
      id: 8,
      method: 'generate',
      params: { prompt: { text: 'Hi' }, settings: { maxNewTokens: 4, temprature: 0.7 }, variants: [{ id: 'a', name: 'Baseline' }] },
    });
    expectBadRequest(unknownSetting, 8, 'generate', 'settings', 'temprature');
    const noVariants = await dispatch(api, { kind: 'request', id: 9, method: 'generate', params: { prompt: { text: 'Hi' }, settings: {}, variants: [] } });
    expectBadRequest(noVariants, 9, 'variants', 'at least the baseline');
    const extraKey = await dispatch(api, { kind: 'request', id: 10, method: 'status', params: { verbose: true } });
    expectBadRequest(extraKey, 10, 'status', 'verbose');
    expect(calls).toEqual([]);
  });

  it('lists each bad field in details for the UI', async () => {
    const { api } = recordingApi();
    const response = await dispatch(api, { kind: 'request', id: 1, method: 'tokenize', params: { text: 3, chat: 'yes' } });
    expect(response.ok).toBe(false);
    if (response.ok) return;
    expect(response.error.details?.method).toBe('tokenize');
    expect((response.error.details?.issues as { path: string }[]).map((issue) => issue.path).sort()).toEqual(['chat', 'text']);
  });

  it('calls the method with parsed params, defaults filled in', async () => {
    const { api, calls } = recordingApi((method) => (method === 'tokenize' ? { ids: [1], tokens: ['<s>'] } : undefined));
    const response = await dispatch(api, JSON.stringify({ kind: 'request', id: 11, method: 'tokenize', params: { text: 'Hi' } }));
    expect(response).toEqual({ kind: 'response', id: 11, ok: true, result: { ids: [1], tokens: ['<s>'] } });
    expect(calls).toEqual([['tokenize', { text: 'Hi', chat: false }]]);
    // Params may be left out for methods that take none.
    expect(parseRequest({ kind: 'request', id: 12, method: 'status' })).toMatchObject({ ok: true, request: { method: 'status', params: {} } });
  });

  it('hands on params the Workbench does not parse again, and parses anything else', async () => {
    const { api, calls } = recordingApi();
    const variant = { id: 'v1', name: 'steer', interventions: [{ hook: 'blocks.0.hook_resid_post', op: 'add', vector: [0.5, -0.5], scale: 2 }] };
    await dispatch(api, JSON.stringify({ kind: 'request', id: 14, method: 'validateVariant', params: { variant } }));
    const [[, handedOn]] = calls;
    const again = parseParams('validateVariant', handedOn);
    expect(again.success && again.data).toBe(handedOn); // the same object: not parsed a second time
    // A look-alike that did not come from the parser is parsed, so a direct caller is still checked.
    const lookAlike = JSON.parse(JSON.stringify(handedOn)) as unknown;
    const parsed = parseParams('validateVariant', lookAlike);
    expect(parsed.success && parsed.data).not.toBe(lookAlike);
    expect(parseParams('validateVariant', { variant: { ...variant, interventions: [{ hook: 'x', op: 'nope' }] } }).success).toBe(false);
  });

  it('answers void methods with result null', async () => {
    const { api } = recordingApi();
    expect(await dispatch(api, { kind: 'request', id: 13, method: 'cancel', params: { runId: 'r' } })).toEqual({ kind: 'response', id: 13, ok: true, result: null });
  });

  it('serializes engine errors with their code, and other errors as internal', async () => {
    const { api } = recordingApi((method) => {
      if (method === 'loadModel') throw new EngineError('not_found', '/nowhere does not exist');
      throw new TypeError('boom');
    });
    expect(await dispatch(api, { kind: 'request', id: 14, method: 'loadModel', params: { path: '/nowhere' } })).toEqual({
      kind: 'response',
      id: 14,
      ok: false,
      error: { code: 'not_found', message: '/nowhere does not exist' },
    });
    const internal = await dispatch(api, { kind: 'request', id: 15, method: 'listHooks', params: {} });
    expect(internal).toMatchObject({ id: 15, ok: false, error: { code: 'internal', message: 'boom' } });
  });
  // Issue 11 item 1: zod collected one issue per bad element and overflowed the stack on
  // ~800 KB messages, and the RangeError escaped the dispatcher and took the server down.
  it('answers a request with 200,000 bad vector values with one named error', async () => {
    const { api, calls } = recordingApi();
    const variant = { id: 'v', name: 'v', interventions: [{ op: 'add', hook: 'blocks.0.hook_resid_pre', vector: Array.from({ length: 200_000 }, () => 'x') }] };
    const message = JSON.stringify({ kind: 'request', id: 7, method: 'validateVariant', params: { variant } });
    expect(message.length).toBeGreaterThan(800_000);
    const response = await dispatch(api, message);
    expectBadRequest(response, 7, 'validateVariant: invalid params: variant.interventions[0].vector[0]: expected number, received string');
    if (!response.ok) expect(response.error.details?.issues).toEqual([{ path: 'variant.interventions.0.vector.0', message: 'expected number, received string' }]);
    expect(calls).toEqual([]);
  });

  it('caps the issues of a request with thousands of problems', async () => {
    const { api } = recordingApi();
    const variant = { id: 'v', name: 'v', interventions: Array.from({ length: 600 }, () => ({ op: 'add', hook: 7, vector: [1] })) };
    const response = await dispatch(api, { kind: 'request', id: 8, method: 'validateVariant', params: { variant } });
    expectBadRequest(response, 8, 'and 93 more');
    if (!response.ok) expect((response.error.details?.issues as unknown[]).length).toBe(101);
  });
});
