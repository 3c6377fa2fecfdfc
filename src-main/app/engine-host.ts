/**
 * Main's handle on the engine process (engine-process.ts): forwards parsed requests,
 * matches responses by id, passes events on, and notices when the process dies. A dead
 * engine answers every call with an error until restart() starts a new one; the
 * renderer is told with a status event { state: 'crashed' }.
 *
 * The process is started through `spawn` (main.ts passes Electron's utilityProcess.fork),
 * so this logic runs, and is tested, without Electron.
 */
import type { EngineStatus, WireRequest, WireResponse, WorkbenchEvent } from '../engine/api';

/** The little of a child process the host needs; Electron's UtilityProcess, adapted. */
export interface EngineChild {
  postMessage(message: unknown): void;
  onMessage(listener: (message: unknown) => void): void;
  onExit(listener: (code: number | null) => void): void;
  kill(): void;
}

export interface EngineHostOptions {
  spawn: () => EngineChild;
  onEvent: (event: WorkbenchEvent) => void;
}

type Incoming = WireResponse | { kind: 'event'; event: WorkbenchEvent };

export class EngineHost {
  private child: EngineChild | null = null;
  private exited: Promise<void> = Promise.resolve();
  private readonly pending = new Map<number, { clientId: number; settle: (response: WireResponse) => void }>();
  private nextId = 1;
  private crash: EngineStatus | null = null;
  private stopping = false;

  constructor(private readonly options: EngineHostOptions) {}

  start(): void {
    this.crash = null;
    this.stopping = false;
    const child = this.options.spawn();
    this.child = child;
    child.onMessage((message) => this.receive(message as Incoming));
    this.exited = new Promise((resolve) => child.onExit((code) => resolve(this.onExit(child, code))));
  }

  /** The crash status while the engine is down, null while it runs. */
  get crashStatus(): EngineStatus | null {
    return this.crash;
  }

  /** Send one parsed request; resolves with its response (an error response if the engine is down or dies). */
  call(request: WireRequest): Promise<WireResponse> {
    const child = this.child;
    if (!child) {
      return Promise.resolve({ kind: 'response', id: request.id, ok: false, error: { code: 'runtime_error', message: 'the engine is not running: restart it (restartEngine)' } });
    }
    // Our own ids on the wire: the renderer's ids are per call site and may repeat.
    const id = this.nextId++;
    return new Promise((settle) => {
      this.pending.set(id, { clientId: request.id, settle });
      child.postMessage({ ...request, id });
    });
  }

  /** Stop the current engine process (if any) and start a new one. */
  async restart(): Promise<void> {
    await this.stop();
    this.start();
  }

  /** Stop the engine process and wait until it has exited. */
  async stop(): Promise<void> {
    if (!this.child) return;
    this.stopping = true;
    this.child.kill();
    await this.exited;
  }

  private receive(message: Incoming): void {
    if (message.kind === 'event') {
      this.options.onEvent(message.event);
      return;
    }
    const waiter = message.id === null ? undefined : this.pending.get(message.id);
    if (!waiter || message.id === null) return;
    this.pending.delete(message.id);
    waiter.settle({ ...message, id: waiter.clientId });
  }

  private onExit(child: EngineChild, code: number | null): void {
    if (this.child !== child) return;
    this.child = null;
    const message = this.stopping ? 'the engine was stopped' : `the engine process exited unexpectedly (code ${code ?? 'none'}); unsaved work is kept, restart the engine to go on`;
    for (const { clientId, settle } of this.pending.values()) {
      settle({ kind: 'response', id: clientId, ok: false, error: { code: 'runtime_error', message: `${message} while handling this request` } });
    }
    this.pending.clear();
    if (this.stopping) return;
    this.crash = { state: 'crashed', model: null, error: { code: 'runtime_error', message }, transport: 'ipc', nativeDialogs: true };
    this.options.onEvent({ type: 'status', status: this.crash });
  }
}
