/**
 * Electron main: one window, the application menu, native dialogs, and the relay between
 * the renderer and the engine process. Decisions that can be tested without Electron live
 * beside this file (menu-template, window-bounds, open-file, navigation); this file wires
 * them to Electron and stays thin.
 *
 * Every renderer call arrives on one channel, is checked to come from our own page,
 * parsed with the shared dispatcher's schemas, and only then forwarded.
 */
import { app, BrowserWindow, dialog, ipcMain, Menu, screen, session, shell, utilityProcess, type IpcMainInvokeEvent, type MenuItemConstructorOptions } from 'electron';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { EngineStatus, InvokeResult, RecentExperiment, RequestOf, WireRequest, WireResponse, WorkbenchEvent } from '../engine/api';
import { contentSecurityPolicy } from '../transport/csp';
import { parseRequest } from '../transport/dispatch';
import { EngineHost, type EngineChild } from './engine-host';
import { IPC } from './ipc-channels';
import { buildMenuTemplate, type MenuItemSpec } from './menu-template';
import { externalUrlToOpen, isAllowedRequest, isAppUrl, type AppOrigins } from './navigation';
import { experimentPathFromArgv, isExperimentPath } from './open-file';
import { pickPath } from './pick-path';
import { MIN_HEIGHT, MIN_WIDTH, WindowStateStore } from './window-bounds';

// The same folder `npm run serve` uses by default (engine/workbench/app-data.ts), whether
// or not the app runs packaged (unpackaged, Electron would name it after package.json's "name").
app.setPath('userData', process.env.TILLER_APP_DATA ?? join(app.getPath('appData'), 'Tiller'));

const origins: AppOrigins = {
  rendererRoot: pathToFileURL(join(__dirname, '..', 'renderer')).href + '/',
  devServer: !app.isPackaged && process.env.ELECTRON_RENDERER_URL ? process.env.ELECTRON_RENDERER_URL : null,
};

let window: BrowserWindow | null = null;
let rendererReady = false;
/** Events for the renderer before its page has loaded (e.g. a file to open at start). */
const queued: WorkbenchEvent[] = [];

function send(event: WorkbenchEvent): void {
  if (window && rendererReady) window.webContents.send(IPC.event, event);
  else queued.push(event);
}

/** The engine in its own process (engine-process.ts); a native crash there leaves this window alive. */
function spawnEngine(): EngineChild {
  const child = utilityProcess.fork(join(__dirname, 'engine-process.js'), ['--app-data', app.getPath('userData')], { serviceName: 'Tiller engine', stdio: 'inherit' });
  return {
    postMessage: (message) => child.postMessage(message),
    onMessage: (listener) => child.on('message', listener),
    onExit: (listener) => child.on('exit', listener),
    kill: () => child.kill(),
  };
}

const engine = new EngineHost({ spawn: spawnEngine, onEvent: send });

// ---------------------------------------------------------------- opening files

function openExperimentFile(path: string): void {
  send({ type: 'menu', command: 'open', path });
  if (window) {
    if (window.isMinimized()) window.restore();
    window.focus();
  }
}

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  // A second launch (e.g. double-clicking a .tiller.json) hands its argv to us and exits.
  app.on('second-instance', (_event, argv, cwd) => {
    const path = experimentPathFromArgv(argv, cwd);
    if (path) openExperimentFile(path);
    else if (window) window.focus();
  });
  // macOS delivers file associations as events, possibly before 'ready'.
  app.on('open-file', (event, path) => {
    event.preventDefault();
    if (isExperimentPath(path)) openExperimentFile(path);
  });
  app.whenReady().then(start, (error: unknown) => {
    dialog.showErrorBox('Tiller could not start', String(error));
    app.quit();
  });
}

// ---------------------------------------------------------------- menu

function toElectronMenu(items: MenuItemSpec[]): MenuItemConstructorOptions[] {
  return items.map(({ command, path, submenu, role, ...rest }) => ({
    ...rest,
    ...(role ? { role: role as MenuItemConstructorOptions['role'] } : {}),
    ...(submenu ? { submenu: toElectronMenu(submenu) } : {}),
    ...(command ? { click: () => send({ type: 'menu', command, path: path ?? null }) } : {}),
  }));
}

async function refreshMenu(): Promise<void> {
  const response = await engine.call({ kind: 'request', id: 0, method: 'listRecent', params: {} });
  const recent = response.ok ? (response.result as RecentExperiment[]) : [];
  Menu.setApplicationMenu(Menu.buildFromTemplate(toElectronMenu(buildMenuTemplate({ platform: process.platform, appName: app.name, recent }))));
}

// ---------------------------------------------------------------- IPC relay

async function handle(request: WireRequest): Promise<WireResponse> {
  switch (request.method) {
    case 'pickPath': {
      const result = window ? await pickPath(window, request.params as RequestOf<'pickPath'>) : null;
      return { kind: 'response', id: request.id, ok: true, result };
    }
    case 'restartEngine': {
      await engine.restart();
      const status = await engine.call({ ...request, method: 'status' });
      if (status.ok) send({ type: 'status', status: status.result as EngineStatus });
      return status;
    }
    case 'status': {
      const crash = engine.crashStatus;
      return crash ? { kind: 'response', id: request.id, ok: true, result: crash } : engine.call(request);
    }
    default: {
      const response = await engine.call(request);
      if (response.ok && (request.method === 'openExperiment' || request.method === 'saveExperiment')) {
        app.addRecentDocument((response.result as { path: string }).path);
        void refreshMenu();
      }
      return response;
    }
  }
}

async function invoke(event: IpcMainInvokeEvent, method: unknown, params: unknown): Promise<InvokeResult> {
  // Only our own page, in our own window, may drive the engine.
  const frameUrl = event.senderFrame?.url ?? '';
  if (!window || event.sender !== window.webContents || !isAppUrl(frameUrl, origins)) {
    console.error(`refused IPC from ${frameUrl || 'an unknown frame'}`);
    return { ok: false, error: { code: 'bad_request', message: 'IPC is accepted only from the Tiller window' } };
  }
  const parsed = parseRequest({ kind: 'request', id: 0, method, params });
  const response = parsed.ok ? await handle(parsed.request) : parsed.response;
  return response.ok ? { ok: true, result: response.result } : { ok: false, error: response.error };
}

// ---------------------------------------------------------------- window and session

function lockDownSession(): void {
  const csp = contentSecurityPolicy({ connect: origins.devServer ? [new URL(origins.devServer).origin.replace(/^http/, 'ws')] : [] });
  session.defaultSession.webRequest.onBeforeRequest((details, callback) => {
    const allowed = isAllowedRequest(details.url, origins);
    if (!allowed) console.error(`blocked request to ${details.url}`);
    callback({ cancel: !allowed });
  });
  session.defaultSession.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [csp] } });
  });
  // No camera, notifications, geolocation, ...: the workbench needs none of them.
  session.defaultSession.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
}

app.on('web-contents-created', (_event, contents) => {
  contents.on('will-navigate', (event) => event.preventDefault());
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(({ url }) => {
    const external = externalUrlToOpen(url);
    if (external) void shell.openExternal(external);
    return { action: 'deny' };
  });
});

function createWindow(): void {
  const store = new WindowStateStore(join(app.getPath('userData'), 'window-state.json'));
  const state = store.load(screen.getAllDisplays().map((display) => display.workArea));
  const win = new BrowserWindow({
    ...state,
    minWidth: MIN_WIDTH,
    minHeight: MIN_HEIGHT,
    show: false,
    title: 'Tiller',
    webPreferences: {
      preload: join(__dirname, '..', 'preload', 'preload.js'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webviewTag: false,
      spellcheck: false,
    },
  });
  if (state.maximized) win.maximize();
  win.once('ready-to-show', () => win.show());
  win.on('close', () => store.save({ ...win.getNormalBounds(), maximized: win.isMaximized() }));
  win.on('closed', () => {
    window = null;
    rendererReady = false;
  });
  // Each (re)load starts a fresh page: hold events until it can receive them.
  win.webContents.on('did-start-loading', () => {
    rendererReady = false;
  });
  win.webContents.on('did-finish-load', () => {
    rendererReady = true;
    for (const event of queued.splice(0)) win.webContents.send(IPC.event, event);
  });
  window = win;
  if (origins.devServer) void win.loadURL(origins.devServer);
  else void win.loadFile(join(__dirname, '..', 'renderer', 'index.html'));
}

async function start(): Promise<void> {
  lockDownSession();
  engine.start();
  ipcMain.handle(IPC.invoke, invoke);
  await refreshMenu();
  createWindow();
  const path = experimentPathFromArgv(process.argv, process.cwd());
  if (path) openExperimentFile(path);
}

app.on('window-all-closed', () => app.quit());
app.on('will-quit', () => {
  void engine.stop();
});
