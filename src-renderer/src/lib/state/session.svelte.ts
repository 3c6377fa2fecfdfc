/**
 * The engine as the UI sees it: its status (state, loaded model), the loaded model's
 * hook catalogue, the model catalogue and download progress. Everything here is
 * replaced whole from API replies and events, so it is held in $state.raw.
 */
import { errorMessage } from '../api/errors';
import type { CatalogModel, EngineStatus, HookInfo, ModelInfo, ModelMemory, RequestOf, WorkbenchApi, WorkbenchEvent } from '../api/types';
import type { ConnectionState } from '../api/websocket';

export interface DownloadProgress {
  downloadId: string;
  modelId: string;
  receivedBytes: number;
  totalBytes: number | null;
  state: 'running' | 'done' | 'error';
  error: string | null;
}

/** The first load of a model in a weight format converts its checkpoint: how far it is. */
export interface ConversionProgress {
  weights: string;
  doneBytes: number;
  totalBytes: number;
  bytesPerSecond: number;
}

export class Session {
  readonly api: WorkbenchApi;
  readonly transport: 'ipc' | 'websocket';

  #status = $state.raw<EngineStatus | null>(null);
  #hooks = $state.raw<HookInfo[]>([]);
  #connection = $state<ConnectionState>('connecting');
  #catalog = $state.raw<CatalogModel[]>([]);
  #catalogError = $state<string | null>(null);
  #downloads = $state.raw<Record<string, DownloadProgress>>({});
  #loadingPath = $state<string | null>(null);
  #loadError = $state<string | null>(null);
  #restarting = $state(false);
  #conversion = $state.raw<ConversionProgress | null>(null);
  /** What each weight format of the model at `path` needs; null while unknown or unreadable. */
  #memory = $state.raw<{ path: string; memory: ModelMemory } | null>(null);

  constructor(api: WorkbenchApi, transport: 'ipc' | 'websocket') {
    this.api = api;
    this.transport = transport;
  }

  get status(): EngineStatus | null {
    return this.#status;
  }
  get model(): ModelInfo | null {
    return this.#status?.model ?? null;
  }
  get hooks(): HookInfo[] {
    return this.#hooks;
  }
  get connection(): ConnectionState {
    return this.#connection;
  }
  get catalog(): CatalogModel[] {
    return this.#catalog;
  }
  get catalogError(): string | null {
    return this.#catalogError;
  }
  get downloads(): Record<string, DownloadProgress> {
    return this.#downloads;
  }
  /** The path a loadModel call is loading, or null. */
  get loadingPath(): string | null {
    return this.#loadingPath;
  }
  get loadError(): string | null {
    return this.#loadError;
  }
  get conversion(): ConversionProgress | null {
    return this.#conversion;
  }
  memoryOf(path: string): ModelMemory | null {
    return this.#memory?.path === path ? this.#memory.memory : null;
  }
  get nativeDialogs(): boolean {
    return this.#status?.nativeDialogs ?? false;
  }
  get crashed(): boolean {
    return this.#status?.state === 'crashed';
  }
  get restarting(): boolean {
    return this.#restarting;
  }

  setConnection(state: ConnectionState): void {
    this.#connection = state;
  }

  async refresh(): Promise<void> {
    this.#apply(await this.api.status({}));
  }

  /** Ask what each weight format of the model at `path` needs; a path that does not open leaves it unknown. */
  async checkMemory(path: string): Promise<void> {
    try {
      const memory = await this.api.modelMemory({ path });
      this.#memory = { path, memory };
    } catch {
      if (this.#memory?.path === path) this.#memory = null; // loading it will say what is wrong
    }
  }

  async loadModel(path: string, weights?: RequestOf<'loadModel'>['weights']): Promise<ModelInfo | null> {
    this.#loadingPath = path;
    this.#loadError = null;
    try {
      const model = await this.api.loadModel(weights ? { path, weights } : { path });
      if (this.#status) this.#apply({ ...this.#status, model });
      await this.refresh();
      return model;
    } catch (error) {
      this.#loadError = errorMessage(error);
      // A failed load leaves the engine's previous model loaded; show what it holds now.
      await this.refresh().catch(() => undefined);
      return null;
    } finally {
      this.#loadingPath = null;
      this.#conversion = null;
    }
  }

  async unloadModel(): Promise<void> {
    await this.api.unloadModel({});
    await this.refresh();
  }

  async restart(): Promise<void> {
    this.#restarting = true;
    try {
      this.#apply(await this.api.restartEngine({}));
    } finally {
      this.#restarting = false;
    }
  }

  async refreshCatalog(): Promise<void> {
    try {
      this.#catalog = await this.api.listModels({});
      this.#catalogError = null;
    } catch (error) {
      this.#catalogError = errorMessage(error);
    }
  }

  async download(modelId: string): Promise<void> {
    const { downloadId } = await this.api.downloadModel({ id: modelId });
    this.#downloads = {
      ...this.#downloads,
      [modelId]: { downloadId, modelId, receivedBytes: 0, totalBytes: null, state: 'running', error: null },
    };
  }

  handleEvent(event: WorkbenchEvent): void {
    if (event.type === 'status') this.#apply(event.status);
    else if (event.type === 'conversion') {
      if (event.path === this.#loadingPath) this.#conversion = { weights: event.weights, doneBytes: event.doneBytes, totalBytes: event.totalBytes, bytesPerSecond: event.bytesPerSecond };
    } else if (event.type === 'download') {
      this.#downloads = {
        ...this.#downloads,
        [event.modelId]: {
          downloadId: event.downloadId,
          modelId: event.modelId,
          receivedBytes: event.receivedBytes,
          totalBytes: event.totalBytes,
          state: event.state,
          error: event.error?.message ?? null,
        },
      };
      if (event.state === 'done') void this.refreshCatalog();
    }
  }

  /** A new status; the hook list follows the loaded model. */
  #apply(status: EngineStatus): void {
    const before = this.#status?.model ?? null;
    this.#status = status;
    const after = status.model;
    if (after === null) this.#hooks = [];
    else if (before === null || before.fingerprint !== after.fingerprint || before.path !== after.path || this.#hooks.length === 0) void this.#loadHooks();
  }

  async #loadHooks(): Promise<void> {
    const fingerprint = this.model?.fingerprint;
    try {
      const hooks = await this.api.listHooks({});
      if (this.model?.fingerprint === fingerprint) this.#hooks = hooks;
    } catch (error) {
      console.warn(`could not list hooks: ${errorMessage(error)}`);
      this.#hooks = [];
    }
  }
}
