/**
 * Positioned reads shared by the checkpoint readers. Weight files can be many GB, so
 * readers keep a file descriptor open and fetch one region at a time instead of
 * loading whole files.
 */
import { readSync } from 'node:fs';
import { EngineError } from '../errors';

/** fs.read rejects lengths above 2^31 - 1, so large regions are read in pieces. */
const MAX_READ_BYTES = 1 << 30;

/**
 * Fill `target` from `fd` starting at byte `position`. A short read means the file
 * shrank after it was validated (or lied about its size): report it as a bad file
 * rather than returning zeros.
 */
export function readExactly(fd: number, target: Uint8Array, position: number, file: string): void {
  let done = 0;
  while (done < target.byteLength) {
    const length = Math.min(MAX_READ_BYTES, target.byteLength - done);
    const got = readSync(fd, target, done, length, position + done);
    if (got === 0) {
      throw new EngineError(
        'bad_model_file',
        `${file}: unexpected end of file at byte ${position + done} (wanted ${target.byteLength} bytes from byte ${position})`,
      );
    }
    done += got;
  }
}

/** Product of a shape's dimensions (1 for a scalar). */
export function elementCount(shape: readonly number[]): number {
  return shape.reduce((product, dim) => product * dim, 1);
}

export const formatShape = (shape: readonly number[]): string => `[${shape.join(', ')}]`;

/** [rows, cols] -> [cols, rows]: Hugging Face linear weights [out, in] become MatMul's [in, out]; Conv1D's [in, out] become [out, in]. */
export function transpose(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) {
    const rowOffset = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = data[rowOffset + c];
  }
  return out;
}
