/** Paths the end-to-end tests share: the repository, the test model, the Electron binary. */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';

export const repoRoot = resolve(__dirname, '..');

/** The tiny real model the flow uses (../shared beside the repository). */
export const storiesModel = resolve(repoRoot, '../shared/models/stories260K-hf');
/** The same model as a llama2.c checkpoint: another file, so another model to the workbench (another fingerprint). */
export const storiesCheckpoint = resolve(repoRoot, '../shared/models/stories260K/stories260K.bin');

export const storiesModelMissing = existsSync(resolve(storiesModel, 'config.json'))
  ? null
  : `the test model is not at ${storiesModel} (it comes from ../shared/models; see the README)`;
export const storiesCheckpointMissing = existsSync(storiesCheckpoint) ? null : `the llama2.c test model is not at ${storiesCheckpoint}`;

/**
 * The Electron executable, without require('electron'): in Electron >= 42 that starts a
 * download (TOOLCHAIN.md pitfall 2). ELECTRON_EXEC_PATH wins; else the installed
 * package's path.txt names the binary inside node_modules/electron/dist.
 */
export function electronBinary(): string | null {
  const fromEnv = process.env.ELECTRON_EXEC_PATH;
  if (fromEnv) return existsSync(fromEnv) ? fromEnv : null;
  const pathFile = resolve(repoRoot, 'node_modules/electron/path.txt');
  if (!existsSync(pathFile)) return null;
  const binary = resolve(repoRoot, 'node_modules/electron/dist', readFileSync(pathFile, 'utf8').trim());
  return existsSync(binary) ? binary : null;
}
