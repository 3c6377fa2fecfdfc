/**
 * The application menu as data. main.ts turns each item with a `command` into an Electron
 * menu item whose click sends a 'menu' event to the renderer; everything else (roles,
 * separators) maps one to one. Kept free of Electron so it can be tested in Node.
 */
import type { MenuCommand, RecentExperiment } from '../engine/api';

export interface MenuItemSpec {
  label?: string;
  /** An Electron menu role (copy, reload, about, ...): Electron supplies label and action. */
  role?: string;
  accelerator?: string;
  type?: 'separator';
  enabled?: boolean;
  submenu?: MenuItemSpec[];
  /** Sent to the renderer as { type: 'menu', command, path }. */
  command?: MenuCommand;
  path?: string;
}

export interface MenuContext {
  platform: NodeJS.Platform;
  appName: string;
  recent: RecentExperiment[];
}

const separator: MenuItemSpec = { type: 'separator' };

function recentItems(recent: RecentExperiment[]): MenuItemSpec[] {
  if (recent.length === 0) return [{ label: 'No Recent Experiments', enabled: false }];
  return recent.map((entry) => ({ label: `${entry.name} — ${entry.path}`, command: 'open-recent', path: entry.path }));
}

export function buildMenuTemplate({ platform, appName, recent }: MenuContext): MenuItemSpec[] {
  const mac = platform === 'darwin';
  const template: MenuItemSpec[] = [];
  if (mac) {
    template.push({
      label: appName,
      submenu: [{ role: 'about' }, separator, { role: 'services' }, separator, { role: 'hide' }, { role: 'hideOthers' }, { role: 'unhide' }, separator, { role: 'quit' }],
    });
  }
  template.push(
    {
      label: 'File',
      submenu: [
        { label: 'New Experiment', accelerator: 'CmdOrCtrl+N', command: 'new' },
        { label: 'Open…', accelerator: 'CmdOrCtrl+O', command: 'open' },
        { label: 'Open Recent', submenu: recentItems(recent) },
        separator,
        { label: 'Save', accelerator: 'CmdOrCtrl+S', command: 'save' },
        { label: 'Save As…', accelerator: 'CmdOrCtrl+Shift+S', command: 'save-as' },
        ...(mac ? [] : [separator, { role: 'quit' }]),
      ],
    },
    // Without an Edit menu, macOS has no copy/paste shortcuts in text fields.
    {
      label: 'Edit',
      submenu: [{ role: 'undo' }, { role: 'redo' }, separator, { role: 'cut' }, { role: 'copy' }, { role: 'paste' }, { role: 'selectAll' }],
    },
    {
      label: 'Model',
      submenu: [
        { label: 'Open Folder…', command: 'open-model-folder' },
        { label: 'Open llama2.c Checkpoint…', command: 'open-model-file' },
        { label: 'Download…', command: 'download-model' },
        separator,
        { label: 'Generate', accelerator: 'CmdOrCtrl+Enter', command: 'generate' },
        { label: 'Cancel Generation', accelerator: 'CmdOrCtrl+.', command: 'cancel' },
      ],
    },
    {
      label: 'View',
      submenu: [
        { role: 'reload' },
        { role: 'forceReload' },
        { role: 'toggleDevTools' },
        separator,
        { role: 'resetZoom' },
        { role: 'zoomIn' },
        { role: 'zoomOut' },
        separator,
        { role: 'togglefullscreen' },
      ],
    },
  );
  if (mac) template.push({ role: 'windowMenu' });
  template.push({ label: 'Help', submenu: [{ role: 'about', label: `About ${appName}` }] });
  return template;
}
