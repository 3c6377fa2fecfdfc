import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * Where Tiller keeps the user's state (recent files, autosave, downloaded models) when
 * no folder is given. The same folder Electron's app.getPath('userData') names for the
 * product "Tiller", so the app and `npm run serve` share recent files and downloads.
 */
export function defaultAppDataDir(): string {
  if (process.env.TILLER_APP_DATA) return process.env.TILLER_APP_DATA;
  if (process.platform === 'win32') return join(process.env.APPDATA ?? join(homedir(), 'AppData', 'Roaming'), 'Tiller');
  if (process.platform === 'darwin') return join(homedir(), 'Library', 'Application Support', 'Tiller');
  return join(process.env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'Tiller');
}
