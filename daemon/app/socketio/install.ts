// socket.io apps get the pool-wide adapter (adapter.ts) without a line changed. socket.io's Server
// constructor sets its adapter with `this.adapter(opts.adapter || Adapter)`, Adapter being the
// in-memory one of socket.io-adapter. As socket.io loads in a worker, hostd wraps
// Server.prototype.adapter so that this default, and only it, becomes hostd's adapter: an adapter
// the app chose (Redis, Postgres...) is left alone, and one the app sets later with io.adapter(x)
// replaces hostd's, whose members then leave the pool's channel.
//
// Not replaced: the SessionAwareAdapter socket.io picks for `connectionStateRecovery` (the
// sessions it keeps are per worker); the log says so.
import Module from 'node:module';
import { afterModuleLoad } from '../module-load.js';
import { hostdAdapterClass, type SocketIoAdapterModule } from './adapter.js';
import type { AdapterTransport } from './channel.js';

type AdapterSetter = (this: IoServer, ...args: unknown[]) => unknown;

interface IoServer {
  _nsps: Map<string, { adapter: unknown }>;
}

const PATCHED = Symbol('hostd.socketIoAdapter');
/** socket.io's main file, as an ESM `import 'socket.io'` asks for it (by its resolved name). */
const MAIN_FILE = /[\\/]socket\.io[\\/]dist[\\/]index\.js$/;

let installed = false;

/** Where the lines go: a notice when installed, a warning when it cannot be. */
export interface SocketIoLog {
  notice(text: string): void;
  warn(text: string): void;
}

/**
 * In a worker thread, before the app is imported: socket.io servers the app creates use hostd's
 * adapter, whose members are the pool's workers `transport` reaches (channel.ts ThreadTransport).
 * `log` gets one line per socket.io loaded.
 */
export function watchSocketIo(transport: AdapterTransport, log: SocketIoLog): void {
  if (installed) return;
  installed = true;
  afterModuleLoad((request, exported, parent) => {
    if (request !== 'socket.io' && !MAIN_FILE.test(request)) return;
    try {
      patch(exported, fileOf(request, parent), log, transport);
    } catch (err) {
      log.warn(`socket.io: hostd could not install its adapter (${(err as Error).message}); io.emit reaches this worker's clients only`);
    }
  });
}

/** The file socket.io was loaded from: where its own socket.io-adapter resolves from. */
function fileOf(request: string, parent: unknown): string {
  if (request !== 'socket.io') return request;
  const M = Module as unknown as { _resolveFilename(request: string, parent: unknown): string };
  return M._resolveFilename(request, parent);
}

function patch(exported: unknown, file: string, log: SocketIoLog, transport: AdapterTransport): void {
  const proto = (exported as { Server?: { prototype?: Record<PropertyKey, unknown> } } | null)?.Server?.prototype;
  if (proto === undefined || typeof proto.adapter !== 'function' || proto[PATCHED]) return;
  const lib = Module.createRequire(file)('socket.io-adapter') as SocketIoAdapterModule;
  if (typeof lib.ClusterAdapterWithHeartbeat !== 'function') {
    log.warn(
      `socket.io: its socket.io-adapter has no ClusterAdapterWithHeartbeat (npm update socket.io-adapter): ` +
        `io.emit, rooms and fetchSockets reach this worker's clients only`,
    );
    return;
  }
  const Hostd = hostdAdapterClass(lib, transport, log.warn);
  const original = proto.adapter as AdapterSetter;
  proto.adapter = function adapter(this: IoServer, ...args: unknown[]): unknown {
    if (args.length === 0) return original.call(this);
    let chosen = args[0];
    if (chosen === lib.Adapter) chosen = Hostd;
    else {
      if (chosen === lib.SessionAwareAdapter)
        log.warn(
          `socket.io: connectionStateRecovery keeps socket.io's in-memory adapter: io.emit, rooms and fetchSockets ` +
            `reach this worker's clients only (docs/deploy.md, "socket.io across threads and machines")`,
        );
      // The app's own adapter replaces hostd's on every namespace: hostd's leave the channel.
      for (const nsp of this._nsps.values()) if (nsp.adapter instanceof Hostd) nsp.adapter.close();
    }
    return original.call(this, chosen);
  };
  proto[PATCHED] = true;
  log.notice("socket.io: io.emit, rooms and fetchSockets reach every worker of this pool (hostd's adapter)");
}
