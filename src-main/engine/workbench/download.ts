/**
 * Downloading a catalog model: every file goes into a hidden staging folder beside the
 * final one, hashed while it streams; only when every file has its manifest size and
 * sha256 is the folder renamed into place. Any failure removes the staging folder, so
 * nothing partial is ever left where listModels or loadModel would find it.
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { EngineError, serializeError } from '../errors';
import { modelFolder, type CatalogEntry, type CatalogFile } from './catalog';
import type { WorkbenchEvent } from './protocol';

type DownloadEvent = Extract<WorkbenchEvent, { type: 'download' }>;

/** Progress events at most this often (plus the first and the last), so a fast link does not flood the socket. */
const PROGRESS_INTERVAL_MS = 100;

export class ModelDownloads {
  private readonly running = new Map<string, AbortController>(); // by model id

  constructor(
    private readonly modelsDir: string,
    private readonly emit: (event: DownloadEvent) => void,
  ) {}

  /** Start downloading `entry`; progress and the outcome arrive as 'download' events. */
  start(entry: CatalogEntry): { downloadId: string } {
    if (this.running.has(entry.id)) throw new EngineError('bad_argument', `${entry.name} is already downloading`);
    const downloadId = randomUUID();
    const abort = new AbortController();
    this.running.set(entry.id, abort);
    void this.run(entry, downloadId, abort.signal).finally(() => this.running.delete(entry.id));
    return { downloadId };
  }

  /** Abort every download (their staging folders are removed). */
  cancelAll(): void {
    for (const abort of this.running.values()) abort.abort();
  }

  private async run(entry: CatalogEntry, downloadId: string, signal: AbortSignal): Promise<void> {
    const totalBytes = entry.files.reduce((sum, file) => sum + file.bytes, 0);
    const finalFolder = modelFolder(this.modelsDir, entry);
    const staging = join(this.modelsDir, `.${entry.id}.${downloadId}.partial`);
    const base = { type: 'download', downloadId, modelId: entry.id, totalBytes } as const;
    let received = 0;
    let lastReport = 0;
    const progress = (bytes: number): void => {
      received += bytes;
      const now = Date.now();
      if (now - lastReport < PROGRESS_INTERVAL_MS) return;
      lastReport = now;
      this.emit({ ...base, receivedBytes: received, state: 'running', path: null, error: null });
    };
    try {
      mkdirSync(staging, { recursive: true });
      this.emit({ ...base, receivedBytes: 0, state: 'running', path: null, error: null });
      for (const file of entry.files) await fetchVerified(file, join(staging, file.name), signal, progress);
      // Replacing an existing (e.g. damaged) install: the old folder goes only once the new one is complete.
      if (existsSync(finalFolder)) rmSync(finalFolder, { recursive: true, force: true });
      renameSync(staging, finalFolder);
      this.emit({ ...base, receivedBytes: received, state: 'done', path: join(finalFolder, entry.entry), error: null });
    } catch (error) {
      rmSync(staging, { recursive: true, force: true });
      const reason = signal.aborted ? new EngineError('cancelled', `download of ${entry.name} was cancelled`) : error;
      this.emit({ ...base, receivedBytes: received, state: 'error', path: null, error: serializeError(reason) });
    }
  }
}

/** Stream `file.url` to `target`, refusing more bytes than the manifest says, then check size and sha256. */
async function fetchVerified(file: CatalogFile, target: string, signal: AbortSignal, progress: (bytes: number) => void): Promise<void> {
  let response: Response;
  try {
    response = await fetch(file.url, { signal, redirect: 'follow' });
  } catch (error) {
    throw new EngineError('not_found', `cannot download ${file.name} from ${file.url}: ${(error as Error).message}`);
  }
  if (!response.ok || !response.body) throw new EngineError('not_found', `cannot download ${file.name}: ${file.url} answered HTTP ${response.status}`);
  const hash = createHash('sha256');
  const output = await open(target, 'w');
  let bytes = 0;
  try {
    for await (const chunk of response.body) {
      bytes += chunk.byteLength;
      if (bytes > file.bytes) throw new EngineError('bad_model_file', `${file.name} from ${file.url} is larger than the expected ${file.bytes} bytes`);
      hash.update(chunk);
      await output.write(chunk);
      progress(chunk.byteLength);
    }
    await output.sync();
  } finally {
    await output.close();
  }
  if (bytes !== file.bytes) throw new EngineError('bad_model_file', `${file.name} from ${file.url} has ${bytes} bytes; expected ${file.bytes}`);
  const digest = hash.digest('hex');
  if (digest !== file.sha256) throw new EngineError('bad_model_file', `${file.name} from ${file.url} has sha256 ${digest}; expected ${file.sha256}`);
}
