import { expect } from 'vitest';
import { EngineError, type EngineErrorCode } from '../engine/errors';

/**
 * Assert that `action` throws (or rejects with) an EngineError with `code` whose message
 * contains every fragment (file names, tensor names, dtypes...). Returns the error.
 */
export async function expectEngineError(action: () => unknown, code: EngineErrorCode, ...fragments: string[]): Promise<EngineError> {
  let caught: unknown;
  try {
    await action();
  } catch (error) {
    caught = error;
  }
  expect(caught, `expected EngineError ${code}`).toBeInstanceOf(EngineError);
  const error = caught as EngineError;
  expect({ code: error.code, message: error.message }).toMatchObject({ code });
  for (const fragment of fragments) expect(error.message).toContain(fragment);
  return error;
}
