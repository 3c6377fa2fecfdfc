/**
 * The one error type the engine throws. Callers (CLI, app, transports) read `code`
 * to decide what to do; `message` is written for the user and names the problem.
 */
export type EngineErrorCode =
  | 'bad_model_file' // a checkpoint or weight file is malformed, truncated or inconsistent
  | 'bad_config' // config.json is missing, malformed or inconsistent
  | 'unsupported_architecture' // a config names an architecture Tiller cannot build
  | 'bad_tokenizer' // a tokenizer file is missing or malformed
  | 'bad_argument' // a caller passed an invalid value (out-of-range layer, empty prompt, ...)
  | 'bad_plan' // an intervention plan is malformed or does not fit the model (unknown hook, wrong vector length, ...)
  | 'bad_experiment' // an experiment file is malformed, too new, too large, or its tensors sidecar is missing or inconsistent
  | 'feed_mismatch' // a session was run with feeds that do not match its inputs
  | 'provider_unavailable' // a requested execution provider cannot be used
  | 'runtime_error' // onnxruntime failed while creating or running a session
  | 'cancelled' // the caller cancelled the operation
  | 'insufficient_memory' // a model would not fit in the memory available (the message gives the numbers)
  | 'not_found'; // a file or folder does not exist

export class EngineError extends Error {
  override readonly name = 'EngineError';
  constructor(
    readonly code: EngineErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** Plain-object form used when an error crosses a thread, process or socket. */
export interface SerializedError {
  code: EngineErrorCode | 'internal';
  message: string;
  details?: Record<string, unknown>;
}

export function serializeError(error: unknown): SerializedError {
  if (error instanceof EngineError) return { code: error.code, message: error.message, details: error.details };
  if (error instanceof Error) return { code: 'internal', message: error.message };
  return { code: 'internal', message: String(error) };
}
