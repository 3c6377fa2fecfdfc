/**
 * The renderer's Content-Security-Policy, one definition for both hosts: the HTTP header
 * of `npm run serve` and the header Electron adds to the app's responses. Scripts only
 * from the app itself, no eval, no plugins, no framing, no remote anything.
 *
 * style-src allows inline styles because Svelte writes `style="..."` attributes for
 * style bindings; scripts stay strict, which is what stops injected code.
 */
export function contentSecurityPolicy(options: { connect?: string[] } = {}): string {
  const connect = ["'self'", ...(options.connect ?? [])].join(' ');
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    `connect-src ${connect}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}
