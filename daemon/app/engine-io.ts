// socket.io with more than one worker and its default transports: a session starts with HTTP
// long-polling (a handshake, then polls carrying `sid`), then upgrades to a WebSocket carrying the
// same `sid`. All of them must reach the worker whose engine.io holds the session. So in a worker,
// when engine.io generates a session id, the worker tells every front "this sid is mine"
// (stickyClaim) before the handshake answer leaves; fronts route requests carrying it here
// (daemon/dispatch/ws-sticky.ts). The app is not modified: engine.io's generateId is wrapped as
// the module loads (socket.io requires it as CommonJS, from ESM apps too).
import { afterModuleLoad } from './module-load.js';

let claimer: ((key: string) => void) | null = null;
let installed = false;
const WRAPPED = Symbol('hostd.sessionClaims');

/** Where claims go (the worker's WebSocket hub, once it exists). */
export function setSessionClaimer(fn: (key: string) => void): void {
  claimer = fn;
}

type GenerateId = (this: unknown, req: unknown) => string | Promise<string>;

/** Wraps generateId wherever engine.io's Server class defines it. */
function wrap(exported: unknown): void {
  const Server = (exported as { Server?: { prototype: object } } | null)?.Server;
  let proto: object | null = Server?.prototype ?? null;
  while (proto !== null && !Object.hasOwn(proto, 'generateId')) proto = Object.getPrototypeOf(proto) as object | null;
  if (proto === null) return;
  const holder = proto as { generateId: GenerateId; [WRAPPED]?: true };
  if (holder[WRAPPED]) return;
  const original = holder.generateId;
  holder.generateId = async function (this: unknown, req: unknown): Promise<string> {
    const id = await original.call(this, req);
    claimer?.(`sid:${id}`);
    return id;
  };
  holder[WRAPPED] = true;
}

/** In a worker thread, before the app is imported: wrap engine.io when it is loaded. */
export function watchEngineIo(): void {
  if (installed) return;
  installed = true;
  afterModuleLoad((request, exported) => {
    if (request === 'engine.io') wrap(exported);
  });
}
