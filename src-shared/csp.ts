/**
 * Content Security Policies for the dashboard. One strict policy, served three ways:
 * - `RENDERER_CSP_META`: the `<meta http-equiv="Content-Security-Policy">` of src-renderer/index.html (the same
 *   built file is loaded by Electron and by the web bridge, so it must suit both; meta tags ignore frame-ancestors).
 * - `rendererCspHeader()`: the response header for the app:// protocol and Electron's session (adds frame-ancestors).
 * - `webDashboardCspHeader(origin)`: the web bridge's header, which also names its WebSocket origin explicitly.
 * No remote content, no inline or eval'd script, no plugins, no framing, no form posts.
 * Plain strings, no Electron import: in src-shared because the shell (src-main/app) and the web bridge
 * (src-main/bridge) both serve them.
 */
const BASE_DIRECTIVES: ReadonlyArray<[string, string]> = [
  ['default-src', "'none'"],
  ['script-src', "'self'"],
  ['style-src', "'self'"],
  ['img-src', "'self' data:"],
  ['font-src', "'self'"],
  ['connect-src', "'self'"],
  ['manifest-src', "'self'"],
  ['base-uri', "'none'"],
  ['form-action', "'none'"],
  ['object-src', "'none'"],
];

function serialize(directives: ReadonlyArray<[string, string]>): string {
  return directives.map(([name, value]) => `${name} ${value}`).join('; ');
}

/** Exact content of the renderer's CSP meta tag. */
export const RENDERER_CSP_META = serialize(BASE_DIRECTIVES);

export function rendererCspHeader(): string {
  return serialize([...BASE_DIRECTIVES, ['frame-ancestors', "'none'"]]);
}

/** `origin` is the dashboard's own http origin, e.g. http://127.0.0.1:5959; its ws:// twin is allowed to connect. */
export function webDashboardCspHeader(origin: string): string {
  const wsOrigin = origin.replace(/^http/, 'ws');
  return serialize(
    BASE_DIRECTIVES.map(([name, value]): [string, string] =>
      name === 'connect-src' ? [name, `${value} ${wsOrigin}`] : [name, value],
    ).concat([['frame-ancestors', "'none'"]]),
  );
}

/** Response headers every dashboard document and asset carries, besides the CSP. */
export const HARDENING_HEADERS: Readonly<Record<string, string>> = {
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Permissions-Policy': 'camera=(), microphone=(), geolocation=(), usb=(), serial=(), hid=(), bluetooth=()',
};
