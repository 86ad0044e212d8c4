// The one interface the worker runs: every user module, whatever its style (fetch handler,
// node (req, res) listener, Express, Koa), is normalised to a FetchHandler by loadApp().

export interface AppContext {
  waitUntil(promise: Promise<unknown>): void;
  /** The client address, after trusted-proxy resolution. */
  remoteAddress: string;
  /** The mount prefix ("" for a root mount): the SCRIPT_NAME analogue. */
  mount: string;
  requestId: string;
}

export type FetchHandler = (
  request: Request,
  env: Record<string, string>,
  ctx: AppContext,
) => Response | Promise<Response>;

export type AppInterface = 'fetch' | 'node' | 'auto';

export interface LoadedApp {
  fetch: FetchHandler;
  /** The interface actually in use after detection. */
  interface: 'fetch' | 'node';
}

export interface LoadAppOptions {
  interface: AppInterface;
  /** Where compiled TypeScript/JSX goes; defaults to a temp dir. */
  cacheDir?: string;
  /** Lines for the error log about how the app was taken in (see listen-capture.ts). */
  notice?: (text: string) => void;
  /** Lines for the error log at warning level (a second, different server after the app was taken); defaults to notice. */
  warn?: (text: string) => void;
}
