/** The CLI as a user runs it: a real subprocess through tsx, with its own cache folder. */
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';

export const ROOT = resolve(__dirname, '..', '..');

export interface CliOutcome {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runCli(cacheDir: string, ...args: string[]): Promise<CliOutcome> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'src-main/cli/main.ts', ...args], {
      cwd: ROOT,
      env: { ...process.env, TILLER_CACHE_DIR: cacheDir },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failure = error as CliOutcome;
    return { code: failure.code, stdout: failure.stdout, stderr: failure.stderr };
  }
}
