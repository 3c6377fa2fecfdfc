/**
 * Main's handle on the engine process (engine-process.ts): forwards parsed requests,
 * matches responses by id, passes events on, and notices when the process dies. A dead
 * engine answers every call with an error until restart() starts a new one; the
 * renderer is told with an error event for each run it was generating (their ids come
 * from generate's answers and the runs' own events), then a status event { state: 'crashed' }.
 *
 * The process is started through `spawn` (main.ts passes Electron's utilityProcess.fork),
 * so this logic runs, and is tested, without Electron.
 */
import { homedir } from 'node:os';
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
  private readonly pending = new Map<number, { clientId: number; method: WireRequest['method']; settle: (response: WireResponse) => void }>();
  /** Runs the engine is generating: they end with a done or error event, or with the process. */
  private readonly runs = new Set<string>();
  /** Runs that ended before generate answered with their id (a run can fail at once). */
  private readonly endedEarly = new Set<string>();
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
      this.pending.set(id, { clientId: request.id, method: request.method, settle });
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
      this.track(message.event);
      this.options.onEvent(message.event);
      return;
    }
    const waiter = message.id === null ? undefined : this.pending.get(message.id);
    if (!waiter || message.id === null) return;
    this.pending.delete(message.id);
    if (waiter.method === 'generate' && message.ok) this.started((message.result as { runId: string }).runId);
    waiter.settle({ ...message, id: waiter.clientId });
  }

  /** generate answered with a run id; the run may already have ended. */
  private started(runId: string): void {
    if (!this.endedEarly.delete(runId)) this.runs.add(runId);
  }

  /** A run's events: tokens may come before generate's answer; done and error end it. */
  private track(event: WorkbenchEvent): void {
    if (event.type === 'token') this.runs.add(event.runId);
    else if (event.type === 'done' || event.type === 'error') {
      if (!this.runs.delete(event.runId)) this.endedEarly.add(event.runId);
    }
  }

  private onExit(child: EngineChild, code: number | null): void {
    if (this.child !== child) return;
    this.child = null;
    const message = this.stopping ? 'the engine was stopped' : `the engine process exited unexpectedly (code ${code ?? 'none'}); unsaved work is kept, restart the engine to go on`;
    for (const { clientId, settle } of this.pending.values()) {
      settle({ kind: 'response', id: clientId, ok: false, error: { code: 'runtime_error', message: `${message} while handling this request` } });
    }
    this.pending.clear();
    // The engine that would have ended these runs is gone; the renderer waits for their last event.
    for (const runId of this.runs) this.options.onEvent({ type: 'error', runId, error: { code: 'runtime_error', message } });
    this.runs.clear();
    this.endedEarly.clear();
    if (this.stopping) return;
    // defaultDir: the home folder will do while the engine is down (the native dialog picks paths in the app anyway).
    this.crash = { state: 'crashed', model: null, error: { code: 'runtime_error', message }, transport: 'ipc', nativeDialogs: true, defaultDir: homedir() };
    this.options.onEvent({ type: 'status', status: this.crash });
  }
}
