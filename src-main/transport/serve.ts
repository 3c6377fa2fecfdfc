/**
 * `npm run serve`: the engine without a window. Starts a Workbench behind the WebSocket
 * server and prints exactly one line to stdout,
 *
 *   Tiller engine: http://127.0.0.1:PORT/?token=TOKEN
 *
 * once the server listens (and the --model, if given, is loaded). Everything else goes
 * to stderr. Inference runs in the engine's worker thread, so the socket stays responsive
 * while a model generates.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Workbench, conversionLine, defaultAppDataDir, serializeError, weightOptionsLabel, weightOptionsSchema } from '../engine/api';
import { SERVE_USAGE, parseServeArgs } from './serve-args';
import { startServer } from './ws-server';

/**
 * The built renderer: beside this file's bundle (out/main/serve.js -> out/renderer), or,
 * run from source (src-main/transport/serve.ts), in the project's out/ folder.
 */
function rendererDir(): string | null {
  const candidates = [resolve(__dirname, '..', 'renderer'), resolve(__dirname, '..', '..', 'out', 'renderer')];
  return candidates.find((dir) => existsSync(resolve(dir, 'index.html'))) ?? null;
}

async function main(argv: string[]): Promise<number> {
  const parsed = parseServeArgs(argv);
  if (!parsed.ok) {
    process.stderr.write(`error: ${parsed.message}\n\n${SERVE_USAGE}`);
    return 2;
  }
  const args = parsed.args;
  if (args.help) {
    process.stdout.write(SERVE_USAGE);
    return 0;
  }

  const workbench = new Workbench({
    engine: { cacheDir: args.cacheDir, threads: args.threads, executionProvider: args.ep },
    appDataDir: args.appData ?? defaultAppDataDir(),
    transport: 'websocket',
  });
  try {
    if (args.model) {
      const weights = weightOptionsSchema.parse({ format: args.weights, blockSize: args.blockSize, accuracyLevel: args.accuracyLevel });
      const report = conversionLine(weightOptionsLabel(weights), (text) => process.stderr.write(text));
      const stopReporting = workbench.onEvent((event) => {
        if (event.type === 'conversion') report(event);
      });
      const info = await workbench.loadModel({ path: args.model, weights }).finally(stopReporting);
      process.stderr.write(`loaded ${info.path} (${info.architecture}, ${info.nParams} parameters, ${weightOptionsLabel(info.weights)} weights, ${info.provider})\n`);
      if (info.fallbackReason) process.stderr.write(`note: ${info.fallbackReason}\n`);
    }
  } catch (error) {
    const { code, message } = serializeError(error);
    process.stderr.write(`error (${code}): ${message}\n`);
    await workbench.close();
    return 1;
  }

  const renderer = rendererDir();
  if (!renderer) process.stderr.write('note: no built renderer found (run `npm run build`); serving the API only\n');
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer({ api: workbench, port: args.port, rendererDir: renderer, allowedOrigins: args.allowOrigin });
  } catch (error) {
    process.stderr.write(`error: cannot listen on 127.0.0.1:${args.port}: ${(error as Error).message}\n`);
    await workbench.close();
    return 1;
  }
  process.stdout.write(`Tiller engine: ${server.url}\n`);

  await new Promise<void>((resolveStop) => {
    process.once('SIGINT', resolveStop);
    process.once('SIGTERM', resolveStop);
  });
  await server.close();
  await workbench.close();
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
