// Load the user's module (inside a worker thread) and normalise it to a FetchHandler.
import { pathToFileURL } from 'node:url';
import type { FetchHandler, LoadAppOptions, LoadedApp } from './types.js';

export class AppLoadError extends Error {
  readonly code = 'HOSTD_APP_LOAD';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AppLoadError';
  }
}

export async function loadApp(modulePath: string, opts: LoadAppOptions): Promise<LoadedApp> {
  let ns: Record<string, unknown>;
  try {
    ns = (await import(pathToFileURL(modulePath).href)) as Record<string, unknown>;
  } catch (err) {
    throw new AppLoadError(`app ${modulePath} failed to load: ${String(err)}`, { cause: err });
  }
  const exp = ns.default;
  if (opts.interface !== 'node') {
    if (exp && typeof exp === 'object' && typeof (exp as { fetch?: unknown }).fetch === 'function') {
      const obj = exp as { fetch: FetchHandler };
      return { fetch: (req, env, ctx) => obj.fetch(req, env, ctx), interface: 'fetch' };
    }
    if (typeof exp === 'function') {
      return { fetch: exp as FetchHandler, interface: 'fetch' };
    }
  }
  throw new AppLoadError(`app ${modulePath} failed to load: no usable default export`);
}
