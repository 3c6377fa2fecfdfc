/** The application menu as data: commands, accelerators, recent files, platform differences. */
import { describe, expect, it } from 'vitest';
import { buildMenuTemplate, type MenuItemSpec } from './menu-template';

const recent = [
  { path: '/data/runs/a.tiller.json', name: 'Honesty', openedAt: '2025-01-01T00:00:00.000Z' },
  { path: '/data/runs/b.tiller.json', name: 'Clamp', openedAt: '2024-12-31T00:00:00.000Z' },
];

const menu = (template: MenuItemSpec[], label: string): MenuItemSpec[] => template.find((item) => item.label === label)?.submenu ?? [];
const byLabel = (items: MenuItemSpec[], label: string): MenuItemSpec | undefined => items.find((item) => item.label === label);

describe('application menu', () => {
  const linux = buildMenuTemplate({ platform: 'linux', appName: 'Tiller', recent });

  it('has File, Edit, Model, View and Help menus', () => {
    expect(linux.map((item) => item.label)).toEqual(['File', 'Edit', 'Model', 'View', 'Help']);
  });

  it('sends File commands with the standard accelerators', () => {
    const file = menu(linux, 'File');
    expect(byLabel(file, 'New Experiment')).toMatchObject({ command: 'new', accelerator: 'CmdOrCtrl+N' });
    expect(byLabel(file, 'Open…')).toMatchObject({ command: 'open', accelerator: 'CmdOrCtrl+O' });
    expect(byLabel(file, 'Save')).toMatchObject({ command: 'save', accelerator: 'CmdOrCtrl+S' });
    expect(byLabel(file, 'Save As…')).toMatchObject({ command: 'save-as', accelerator: 'CmdOrCtrl+Shift+S' });
    expect(file[file.length - 1]).toEqual({ role: 'quit' });
  });

  it('lists recent experiments, each opening its path', () => {
    const items = byLabel(menu(linux, 'File'), 'Open Recent')?.submenu ?? [];
    expect(items).toEqual([
      { label: 'Honesty — /data/runs/a.tiller.json', command: 'open-recent', path: '/data/runs/a.tiller.json' },
      { label: 'Clamp — /data/runs/b.tiller.json', command: 'open-recent', path: '/data/runs/b.tiller.json' },
    ]);
    const empty = buildMenuTemplate({ platform: 'linux', appName: 'Tiller', recent: [] });
    expect(byLabel(menu(empty, 'File'), 'Open Recent')?.submenu).toEqual([{ label: 'No Recent Experiments', enabled: false }]);
  });

  it('opens models and downloads from the Model menu', () => {
    const model = menu(linux, 'Model');
    expect(model.filter((item) => item.command).map((item) => [item.label, item.command])).toEqual([
      ['Open Folder…', 'open-model-folder'],
      ['Open llama2.c Checkpoint…', 'open-model-file'],
      ['Download…', 'download-model'],
      ['Generate', 'generate'],
      ['Cancel Generation', 'cancel'],
    ]);
  });

  it('uses roles for View and Help', () => {
    expect(menu(linux, 'View').flatMap((item) => (item.role ? [item.role] : []))).toEqual(['reload', 'forceReload', 'toggleDevTools', 'resetZoom', 'zoomIn', 'zoomOut', 'togglefullscreen']);
    expect(menu(linux, 'Help')).toEqual([{ role: 'about', label: 'About Tiller' }]);
  });

  it('puts the app menu first and Quit there on macOS', () => {
    const mac = buildMenuTemplate({ platform: 'darwin', appName: 'Tiller', recent });
    expect(mac.map((item) => item.label ?? item.role)).toEqual(['Tiller', 'File', 'Edit', 'Model', 'View', 'windowMenu', 'Help']);
    expect(mac[0].submenu?.some((item) => item.role === 'quit')).toBe(true);
    expect(menu(mac, 'File').some((item) => item.role === 'quit')).toBe(false);
  });
});
