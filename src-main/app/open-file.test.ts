/** Which experiment a launch asks to open. */
import { describe, expect, it } from 'vitest';
import { experimentPathFromArgv, isExperimentPath } from './open-file';

describe('experiment path from argv', () => {
  it('finds a .tiller.json argument and makes it absolute against the launch folder', () => {
    expect(experimentPathFromArgv(['/opt/Tiller/tiller', 'runs/a.tiller.json'], '/home/me')).toBe('/home/me/runs/a.tiller.json');
    expect(experimentPathFromArgv(['/opt/Tiller/tiller', '/data/b.TILLER.JSON'], '/home/me')).toBe('/data/b.TILLER.JSON');
  });

  it('skips flags, the executable, the app path and other files', () => {
    expect(experimentPathFromArgv(['electron', '.', '--inspect=0', '--no-sandbox'], '/home/me')).toBeNull();
    expect(experimentPathFromArgv(['/x/tiller.tiller.json'], '/home/me')).toBeNull(); // argv[0] is the executable
    expect(experimentPathFromArgv(['tiller', 'notes.json', 'model.bin'], '/home/me')).toBeNull();
    expect(experimentPathFromArgv(['tiller', '--open=a.tiller.json'], '/home/me')).toBeNull();
  });

  it('takes the last of several', () => {
    expect(experimentPathFromArgv(['tiller', '/a.tiller.json', '--flag', '/b.tiller.json'], '/')).toBe('/b.tiller.json');
  });

  it('recognises experiment files by their two-part extension', () => {
    expect(isExperimentPath('/x/run.tiller.json')).toBe(true);
    expect(isExperimentPath('/x/run.json')).toBe(false);
  });
});
