/**
 * The engine's own process (an Electron utilityProcess, started by engine-host.ts): a
 * Workbench behind the shared dispatcher, talking to main over process.parentPort. A
 * native crash in inference ends this process only; the window and its unsaved work
 * live on, and main can start a fresh engine.
 *
 * This file does not import Electron: a utility process is Node with parentPort added.
 */
import { z } from 'zod';
import { Workbench, type WireEvent } from '../engine/api';
import { dispatch } from '../transport/dispatch';

interface ParentPort {
  on(event: 'message', listener: (message: { data: unknown }) => void): void;
  postMessage(message: unknown): void;
}

const argsSchema = z.strictObject({ appData: z.string().min(1), cacheDir: z.string().min(1).optional() });

/** argv after the script: --app-data DIR [--cache-dir DIR], as engine-host.ts passes them. */
function parseArgs(argv: string[]): z.infer<typeof argsSchema> {
  const flags: Record<string, string> = {};
  for (let i = 0; i + 1 < argv.length; i += 2) {
    if (argv[i] === '--app-data') flags.appData = argv[i + 1];
    else if (argv[i] === '--cache-dir') flags.cacheDir = argv[i + 1];
  }
  return argsSchema.parse(flags);
}

const parentPort = (process as { parentPort?: ParentPort }).parentPort;
if (!parentPort) throw new Error('engine-process.js runs inside an Electron utility process (it needs process.parentPort)');
const port = parentPort;

const args = parseArgs(process.argv.slice(2));
const workbench = new Workbench({ appDataDir: args.appData, engine: { cacheDir: args.cacheDir }, transport: 'ipc', nativeDialogs: true });
workbench.onEvent((event) => port.postMessage({ kind: 'event', event } satisfies WireEvent));
port.on('message', ({ data }) => {
  void dispatch(workbench, data).then((response) => port.postMessage(response));
});
