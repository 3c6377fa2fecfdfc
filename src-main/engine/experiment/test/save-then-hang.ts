/**
 * Child process of atomic-save.test.ts: saves sampleExperiment(seed) to <path> and hangs
 * at a chosen point of the save, so the test can SIGKILL it exactly there.
 *
 *   node --import tsx save-then-hang.ts <path> <seed> <fsFunction>:<n>[:half]
 *
 * The n-th call of the node:fs function (as write-atomically.ts and file.ts call it; the
 * patch reaches their imports through syncBuiltinESMExports) prints "hanging" and blocks
 * forever. With ":half", a writeFileSync(fd, bytes) first writes half of its bytes, which
 * is what a kill in the middle of a write leaves behind.
 */
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { saveExperiment } from '../file';
import { sampleExperiment } from './fixtures';

const [path, seed, point] = process.argv.slice(2);
const [name, nth, half] = point.split(':');
const functions = fs as unknown as Record<string, (...args: unknown[]) => unknown>;
const original = functions[name];
let calls = 0;

functions[name] = (...args: unknown[]) => {
  calls++;
  if (calls === Number(nth)) {
    if (half) {
      const [fd, bytes] = args as [number, Uint8Array];
      fs.writeSync(fd, bytes, 0, Math.floor(bytes.byteLength / 2));
    }
    fs.writeSync(1, 'hanging\n'); // synchronous: the event loop never runs again
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
  }
  return original(...args);
};
syncBuiltinESMExports();

saveExperiment(path, sampleExperiment(Number(seed), 256));
fs.writeSync(1, 'saved\n');
