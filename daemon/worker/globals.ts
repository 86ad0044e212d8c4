// Installs the worker's lightweight Request/Response (see light-request.ts, light-response.ts)
// as globals, before the app is imported: apps (and frameworks such as Hono) that say
// `new Response(...)` get the light one, and `new Request(request)` / `fetch(request)` accept
// the light requests hostd hands to the app.
import { isLightRequest, realRequest, WorkerRequestClass } from './light-request.js';
import { LightResponse } from './light-response.js';

let installed = false;

export function installLightFetchGlobals(): void {
  if (installed) return;
  installed = true;
  const define = (name: string, value: unknown) =>
    Object.defineProperty(globalThis, name, {
      value,
      writable: true,
      configurable: true,
      enumerable: Object.getOwnPropertyDescriptor(globalThis, name)?.enumerable ?? false,
    });
  define('Response', LightResponse);
  define('Request', WorkerRequestClass);
  const platformFetch = globalThis.fetch;
  // undici reads its own internal slots from a Request it is given: hand it the real one.
  define('fetch', function fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    return platformFetch(isLightRequest(input) ? realRequest(input as unknown as never) : input, init);
  });
}
