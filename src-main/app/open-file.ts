/**
 * Which experiment file the app was asked to open: from the command line (Windows and
 * Linux file associations start the app with the file's path; a second instance passes
 * its argv to the first) or from macOS's open-file event.
 */
import { isAbsolute, resolve } from 'node:path';

export const EXPERIMENT_SUFFIX = '.tiller.json';

export function isExperimentPath(path: string): boolean {
  return path.toLowerCase().endsWith(EXPERIMENT_SUFFIX);
}

/**
 * The last argument naming a *.tiller.json file, made absolute against the cwd it was
 * given in; null when there is none. Flags (which Chromium and Electron add freely)
 * and the executable and app path at the front never end in .tiller.json.
 */
export function experimentPathFromArgv(argv: readonly string[], cwd: string): string | null {
  for (let i = argv.length - 1; i >= 1; i--) {
    const arg = argv[i];
    if (arg.startsWith('-') || !isExperimentPath(arg)) continue;
    return isAbsolute(arg) ? arg : resolve(cwd, arg);
  }
  return null;
}
