/**
 * Positioned reads shared by the checkpoint readers. Weight files can be many GB, so
 * readers keep a file descriptor open and fetch one region at a time instead of
 * loading whole files.
 */
import { constants } from 'node:buffer';
import { closeSync, constants as fsConstants, fstatSync, openSync, readSync, realpathSync, statSync, type Stats } from 'node:fs';
import { basename, dirname, join, relative, isAbsolute, sep } from 'node:path';
import { EngineError, type EngineErrorCode } from '../errors';

// ------------------------------------------------------------------ untrusted files

/**
 * Open `file` for reading only if it is a regular file; EngineError(`code`) naming it
 * otherwise (`missing`, by default not_found, when it does not exist). A size check alone lets through a FIFO,
 * which blocks open() and read() until a writer comes (and with them every client), and
 * /dev/zero, which reports 0 bytes and never ends. The path is checked before opening;
 * the open is non-blocking, so a FIFO swapped in after the check cannot block it; and the
 * open descriptor is checked again, which is the check that counts.
 */
export function openRegularFile(file: string, what: string, code: EngineErrorCode, missing: EngineErrorCode = 'not_found'): { fd: number; size: number } {
  let stat: Stats;
  try {
    stat = statSync(file);
  } catch (error) {
    throw openError(file, what, code, error, missing);
  }
  if (!stat.isFile()) throw notRegular(file, what, code, stat);
  let fd: number;
  try {
    fd = openSync(file, fsConstants.O_RDONLY | (fsConstants.O_NONBLOCK ?? 0));
  } catch (error) {
    throw openError(file, what, code, error, missing);
  }
  const opened = fstatSync(fd);
  if (!opened.isFile()) {
    closeSync(fd);
    throw notRegular(file, what, code, opened);
  }
  return { fd, size: opened.size };
}

/** The whole of a regular file of at most `maxBytes` bytes (see openRegularFile). */
export function readRegularFile(file: string, what: string, code: EngineErrorCode, maxBytes: number, missing: EngineErrorCode = 'not_found'): Buffer {
  const { fd, size } = openRegularFile(file, what, code, missing);
  try {
    if (size > maxBytes) throw new EngineError(code, `${what} ${file} is ${size} bytes, more than the ${maxBytes} allowed`);
    const bytes = Buffer.alloc(size);
    let done = 0;
    // A file that shrinks while read is read as far as it goes; one that grows, only to its size at open.
    while (done < size) {
      const got = readSync(fd, bytes, done, size - done, done);
      if (got === 0) break;
      done += got;
    }
    return done === size ? bytes : bytes.subarray(0, done);
  } finally {
    closeSync(fd);
  }
}

/** A regular file's text (UTF-8, a leading BOM dropped); never quotes the bytes in an error. */
export function readTextFile(file: string, what: string, code: EngineErrorCode, maxBytes: number, missing: EngineErrorCode = 'not_found'): string {
  const bytes = readRegularFile(file, what, code, maxBytes, missing);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes).replace(/^\uFEFF/, '');
  } catch {
    throw new EngineError(code, `${what} ${file} is not UTF-8 text`);
  }
}

function openError(file: string, what: string, code: EngineErrorCode, error: unknown, missing: EngineErrorCode): EngineError {
  const errno = (error as NodeJS.ErrnoException).code;
  if (errno === 'ENOENT' || errno === 'ENOTDIR') return new EngineError(missing, `${what} ${file} does not exist`);
  if (errno === 'EACCES' || errno === 'EPERM') return new EngineError(code, `${what} ${file} cannot be read (permission denied)`);
  return new EngineError(code, `${what} ${file} cannot be opened (${errno ?? 'error'})`);
}

function notRegular(file: string, what: string, code: EngineErrorCode, stat: Stats): EngineError {
  const kind = stat.isDirectory() ? 'a folder' : stat.isFIFO() ? 'a pipe (FIFO)' : stat.isCharacterDevice() || stat.isBlockDevice() ? 'a device' : stat.isSocket() ? 'a socket' : 'not a regular file';
  return new EngineError(code, `${what} ${file} is ${kind}, not a regular file`);
}

/**
 * EngineError(`code`) unless `file`, with every symlink resolved, lies inside `root`: a
 * model or experiment folder may not reach files elsewhere through a link. A Hugging Face
 * cache snapshot (models--org--name/snapshots/<rev>) links into its own blobs folder, so
 * there the root is the models--org--name folder.
 */
export function checkInsideFolder(file: string, root: string, what: string, code: EngineErrorCode): void {
  let real: string;
  let realRoot: string;
  try {
    real = realpathSync(file);
    realRoot = realpathSync(cacheRepoRoot(root));
  } catch {
    return; // a missing file is reported by whoever opens it
  }
  const inside = relative(realRoot, real);
  if (inside === '' || inside.startsWith(`..${sep}`) || inside === '..' || isAbsolute(inside)) {
    throw new EngineError(code, `${what} ${file} links outside ${root}; files of a model or experiment folder must lie inside it`);
  }
}

function cacheRepoRoot(folder: string): string {
  const snapshots = dirname(folder);
  const repo = dirname(snapshots);
  return basename(snapshots) === 'snapshots' && basename(repo).startsWith('models--') ? repo : folder;
}

/** `name` inside `folder`, refused if a link takes it elsewhere (checkInsideFolder). */
export function fileInFolder(folder: string, name: string, what: string, code: EngineErrorCode): string {
  const file = join(folder, name);
  checkInsideFolder(file, folder, what, code);
  return file;
}

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
