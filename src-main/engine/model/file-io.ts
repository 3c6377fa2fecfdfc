/**
 * Positioned reads shared by the checkpoint readers. Weight files can be many GB, so
 * readers keep a file descriptor open and fetch one region at a time instead of
 * loading whole files.
 */
import { constants } from 'node:buffer';
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

/** The largest typed array Node allocates (4 GiB in Node 20): bigger tensors are read in rows. */
export const MAX_ARRAY_BYTES = constants.MAX_LENGTH;

/**
 * Elements per row of a tensor (the product of every dimension after the first) after
 * checking that rows [first, first + count) exist and fit in one typed array of
 * `bytesPerElement`. A 1-D tensor's rows are its elements; a scalar is one row of one.
 */
export function checkRowRange(shape: readonly number[], first: number, count: number, bytesPerElement: number, what: string): number {
  const rows = shape.length === 0 ? 1 : shape[0];
  const rowElements = elementCount(shape.slice(1));
  if (!Number.isSafeInteger(first) || !Number.isSafeInteger(count) || first < 0 || count < 0 || first + count > rows) {
    throw new EngineError('bad_argument', `${what}: rows [${first}, ${first + count}) are outside its ${rows} rows`);
  }
  if (count * rowElements * bytesPerElement > MAX_ARRAY_BYTES) {
    throw new EngineError('bad_argument', `${what}: ${count} rows are ${count * rowElements * bytesPerElement} bytes, more than one array can hold (${MAX_ARRAY_BYTES}); read fewer rows at a time`);
  }
  return rowElements;
}
