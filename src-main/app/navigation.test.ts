/** What the app window may load, who may send IPC, and which links leave the app. */
import { describe, expect, it } from 'vitest';
import { externalUrlToOpen, isAllowedRequest, isAppUrl, type AppOrigins } from './navigation';

const built: AppOrigins = { rendererRoot: 'file:///opt/Tiller/resources/app.asar/out/renderer/', devServer: null };
const dev: AppOrigins = { rendererRoot: 'file:///src/tiller/out/renderer/', devServer: 'http://localhost:5173/' };

describe('navigation policy', () => {
  it('loads the renderer files and nothing else from disk', () => {
    expect(isAllowedRequest('file:///opt/Tiller/resources/app.asar/out/renderer/index.html', built)).toBe(true);
    expect(isAllowedRequest('file:///opt/Tiller/resources/app.asar/out/renderer/assets/app.js', built)).toBe(true);
    expect(isAllowedRequest('file:///etc/passwd', built)).toBe(false);
    expect(isAllowedRequest('file:///opt/Tiller/resources/app.asar/out/renderer-evil/x.js', built)).toBe(false);
  });

  it('blocks all remote content in a built app', () => {
    for (const url of ['https://cdn.example/lib.js', 'http://localhost:5173/', 'ws://127.0.0.1:9000/api', 'ftp://x/y', 'not a url']) {
      expect(isAllowedRequest(url, built), url).toBe(false);
    }
    expect(isAllowedRequest('data:image/png;base64,AAAA', built)).toBe(true);
    expect(isAllowedRequest('devtools://devtools/bundled/inspector.html', built)).toBe(true);
  });

  it('allows the dev server and its hot-reload socket during development only', () => {
    expect(isAllowedRequest('http://localhost:5173/src/main.ts', dev)).toBe(true);
    expect(isAllowedRequest('ws://localhost:5173/', dev)).toBe(true);
    expect(isAllowedRequest('http://localhost:5174/', dev)).toBe(false);
    expect(isAllowedRequest('http://localhost:5173.evil.example/', dev)).toBe(false);
  });

  it('accepts IPC only from the renderer itself', () => {
    expect(isAppUrl('file:///opt/Tiller/resources/app.asar/out/renderer/index.html', built)).toBe(true);
    expect(isAppUrl('file:///data/evil.html', built)).toBe(false);
    expect(isAppUrl('https://example.com/', built)).toBe(false);
    expect(isAppUrl('http://localhost:5173/', dev)).toBe(true);
    expect(isAppUrl('http://localhost:5173/', built)).toBe(false);
    expect(isAppUrl('', built)).toBe(false);
  });

  it('opens only https links, in the system browser', () => {
    expect(externalUrlToOpen('https://huggingface.co/karpathy/tinyllamas')).toBe('https://huggingface.co/karpathy/tinyllamas');
    expect(externalUrlToOpen('http://example.com/')).toBeNull();
    expect(externalUrlToOpen('file:///etc/passwd')).toBeNull();
    expect(externalUrlToOpen('javascript:alert(1)')).toBeNull();
    expect(externalUrlToOpen('https//missing-colon')).toBeNull();
  });
});
