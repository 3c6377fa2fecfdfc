/**
 * Atomic file replacement: a reader, or the next start after a crash or power cut, sees
 * the old file or the new one, never half of either.
 *
 *   1. write a temp file beside the target (same directory, so the rename stays on one filesystem)
 *   2. fsync it, so its bytes reach the disk before its name does
 *   3. rename it over the target (atomic on POSIX; Node uses MoveFileEx(REPLACE_EXISTING) on Windows)
 *   4. fsync the directory, so the rename itself survives a power cut (POSIX only)
 *
 * Temp names are `<target>.<pid>-<random>.tmp`: they never end like the target, so
 * nothing that looks for `*.tiller.json` mistakes one for a document, and the pid lets
 * removeStaleTemps tell a killed writer's leftovers from a live writer's.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, lstatSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, writeFileSync, type Stats } from 'node:fs';
import { dirname, join } from 'node:path';
import { EngineError } from './errors';

const TEMP_NAME = /^(.+)\.(\d+)-[0-9a-f]{8}\.tmp$/;

/**
 * Refuse to replace a file at `path` that is a link, not a regular file, or not `what`
 * by `isOwn`'s reading of it (EngineError('bad_argument')); nothing there is fine. Every
 * save and export checks its target so, because a client holding the token chooses the
 * path: it must not be able to overwrite any file that merely has the right extension.
 */
export function checkReplaceable(path: string, isOwn: (path: string) => boolean, what: string): void {
  let stat: Stats;
  try {
    stat = lstatSync(path);
  } catch {
    return; // nothing there yet
  }
  const refuse = (why: string) => new EngineError('bad_argument', `not replacing ${path}: ${why}`);
  if (stat.isSymbolicLink()) throw refuse('it is a link; choose the file itself');
  if (!stat.isFile()) throw refuse('it is not a regular file');
  let own = false;
  try {
    own = isOwn(path);
  } catch (error) {
    if (!(error instanceof EngineError)) throw error;
  }
  if (!own) throw refuse(`it is not ${what}`);
}

export function writeAtomically(path: string, bytes: Uint8Array): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const tmp = `${path}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  // 'wx': create a new file, never write through a file or link someone left at that name.
  const fd = openSync(tmp, 'wx');
  try {
    writeFileSync(fd, bytes);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw error;
  }
  closeSync(fd);
  try {
    renameSync(tmp, path);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw error;
  }
  syncDirectory(dir);
}

function syncDirectory(dir: string): void {
  // Windows cannot open a directory as a file; NTFS journals the rename itself.
  if (process.platform === 'win32') return;
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } catch (error) {
    // Some filesystems (network mounts, FUSE) cannot sync a directory. The new file is
    // already in place; only its durability across a power cut is left to the OS then.
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'ENOTSUP' && code !== 'EPERM') throw error;
  } finally {
    closeSync(fd);
  }
}

/**
 * Remove temp files in `dir` left by writers that were killed before their rename:
 * those whose target name passes `isTarget` and whose process no longer runs. A live
 * writer's temp file is left alone.
 */
export function removeStaleTemps(dir: string, isTarget: (targetName: string) => boolean): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return; // no directory, no temps
  }
  for (const name of names) {
    const match = TEMP_NAME.exec(name);
    if (!match || !isTarget(match[1]) || isRunning(Number(match[2]))) continue;
    rmSync(join(dir, name), { force: true });
  }
}

function isRunning(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0); // signal 0: a liveness check, nothing is sent
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // it exists but belongs to someone else
  }
}
