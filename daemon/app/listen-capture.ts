// Apps written to run on their own call listen(): `app.listen(3000)` at the bottom of an Express
// file, often with nothing exported. Inside a pool worker that would open a second, public port
// serving the app around hostd (no vhost, no limits, no logs), in every worker. So in workers an
// HTTP server's listen() binds nothing: hostd notes the server, which becomes the app when the
// module exports none (Phusion Passenger does the same for Node apps), runs the listen callback
// as if the port were open, and tells the error log.
//
// Servers without 'request' listeners (raw TCP, an app's own side channel) listen as usual.
import net from 'node:net';
import { isMainThread } from 'node:worker_threads';

type Listen = (...args: unknown[]) => net.Server;

const servers: net.Server[] = [];
let arrived: (() => void) | null = null;
let installed = false;

interface Target {
  /** As the log shows it: "3000", "127.0.0.1:3000", "/tmp/app.sock". */
  text: string;
  /** What server.address() answers. */
  address: string | { address: string; family: string; port: number };
}

/** What listen() was asked for, from its arguments (port, host) or ({ port, host } | { path }) or (path). */
function targetOf(args: unknown[]): Target {
  const [a, b] = args;
  const o = typeof a === 'object' && a !== null ? (a as { port?: unknown; host?: unknown; path?: unknown }) : null;
  const path = o !== null ? o.path : typeof a === 'string' && !/^\d+$/.test(a) ? a : undefined;
  if (typeof path === 'string') return { text: path, address: path };
  const port = Number(o !== null ? (o.port ?? 0) : (a ?? 0)) || 0;
  const host = o !== null ? o.host : b;
  const h = typeof host === 'string' ? host : '';
  return {
    text: h ? `${h}:${port}` : String(port),
    address: { address: h || '::', family: h === '' || h.includes(':') ? 'IPv6' : 'IPv4', port },
  };
}

/**
 * Replaces net.Server.prototype.listen in this worker thread (once; never on the main thread,
 * where loadApp also runs in tests). `notice` gets one line per intercepted call.
 */
export function captureListen(notice: (text: string) => void): void {
  if (installed || isMainThread) return; // the hostd process's own servers are not the app's
  installed = true;
  const original = net.Server.prototype.listen as unknown as Listen;
  (net.Server.prototype as unknown as { listen: Listen }).listen = function listen(this: net.Server, ...args: unknown[]): net.Server {
    if (this.listenerCount('request') === 0) return original.apply(this, args);
    const cb = typeof args[args.length - 1] === 'function' ? (args.pop() as () => void) : undefined;
    const t = targetOf(args);
    if (!servers.includes(this)) servers.push(this);
    notice(`the app called listen(${t.text}): hostd serves its requests on this mount and binds no port of its own`);
    this.address = () => t.address; // what the app's callback may ask for: the address it wanted
    if (cb) this.once('listening', cb);
    process.nextTick(() => this.emit('listening'));
    const wake = arrived;
    arrived = null;
    wake?.();
    return this;
  };
}

/**
 * The HTTP server the app called listen() on, waiting up to `waitMs` for one (apps often
 * listen after an asynchronous start: a database connection, a config fetch). Null when none
 * came; an error when several did, since which one is the app is then a guess.
 */
export async function listenedServer(waitMs: number): Promise<net.Server | null> {
  if (servers.length === 0 && waitMs > 0) {
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      arrived = resolve;
      timer = setTimeout(resolve, waitMs);
    });
    clearTimeout(timer);
    arrived = null;
  }
  if (servers.length > 1) throw new Error(`the app called listen() on ${servers.length} HTTP servers; export the one hostd should serve`);
  return servers[0] ?? null;
}
