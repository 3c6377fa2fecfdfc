/**
 * The one-line progress report of a first-load weight conversion, for hosts that write
 * to a terminal (the CLI, serve): rewritten in place at most every 200 ms, and ended
 * with a newline when the conversion completes.
 */
import type { ConversionProgress } from './graph/weights-file';

export function conversionLine(label: string, write: (text: string) => void): (progress: ConversionProgress) => void {
  let lastShown = 0;
  return ({ doneBytes, totalBytes, bytesPerSecond }) => {
    const now = performance.now();
    const done = doneBytes === totalBytes;
    if (!done && now - lastShown < 200) return;
    lastShown = now;
    const mb = (bytes: number) => (bytes / 1e6).toFixed(0);
    write(`\rconverting to ${label}: ${mb(doneBytes)} / ${mb(totalBytes)} MB, ${mb(bytesPerSecond)} MB/s${done ? '\n' : ''}`);
  };
}
