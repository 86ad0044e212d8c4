// Apps written to run on their own call listen(): `app.listen(3000)` at the bottom of an Express
// file, often with nothing exported. Inside a pool worker that would open a second, public port
// serving the app around hostd (no vhost, no limits, no logs), in every worker. So in workers an
// HTTP server's listen() binds nothing: hostd notes the server, which becomes the app when the
// module exports none (Phusion Passenger does the same for Node apps), runs the listen callback
// as if the port were open, and tells the error log.
//
// One app often listens on several servers: Fastify's `listen({ port })` binds `localhost`,
// which is ::1 and 127.0.0.1, with a server for each; dual-stack apps listen on 0.0.0.0 and ::.
// Those servers share one request handler, so they are one app. Only servers whose 'request'
// listeners differ are different apps, and hostd cannot guess which of them the mount means.
//
// Servers without 'request' listeners (raw TCP, an app's own side channel) listen as usual.
import net from 'node:net';
import { basename } from 'node:path';
import { isMainThread } from 'node:worker_threads';

type Listen = (...args: unknown[]) => net.Server;
type Handler = (...args: unknown[]) => unknown;

/** One intercepted listen() call. */
interface Listened {
  server: net.Server;
  /** What listen() was asked for, as the log shows it: "3000", "127.0.0.1:3000", "/tmp/app.sock". */
  target: string;
  /** Where the app called listen() from: "server.mjs:12" (its own code, not a framework's). */
  site: string;
  /** The server's 'request' listeners when it listened: what makes two servers one app. */
  handlers: Handler[];
}

const calls: Listened[] = [];
/** The server loadApp took as the app, once it has; later servers are checked against it. */
let chosen: Listened | null = null;
let arrived: (() => void) | null = null;
let installed = false;
let say: { notice: (text: string) => void; warn: (text: string) => void } = { notice: () => {}, warn: () => {} };

interface Target {
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
  // `localhost` answers as the address Node would most likely have bound, so that code comparing
  // it with dns.lookup('localhost') results (Fastify does) sees an IP, not a name.
  const ip = h === '' ? '::' : h === 'localhost' ? '127.0.0.1' : h;
  return {
    text: h ? `${h.includes(':') ? `[${h}]` : h}:${port}` : String(port),
    address: { address: ip, family: ip.includes(':') ? 'IPv6' : 'IPv4', port },
  };
}

/**
 * Where listen() was called from: the first frame in the app's own code ("server.mjs:12"), else
 * the first in a package ("fastify/lib/server.js:262": a framework listening after an await).
 */
function callSite(below: Handler): string {
  const holder: { stack?: string } = {};
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 30;
  Error.captureStackTrace(holder, below); // frames from the caller of `below` on
  Error.stackTraceLimit = limit;
  let fallback = '';
  for (const f of (holder.stack ?? '').split('\n').slice(1)) {
    const m = /\(?(?:file:\/\/)?(\/[^():\s]+):(\d+):\d+\)?\s*$/.exec(f);
    if (!m) continue;
    const [, file, line] = m as unknown as [string, string, string];
    const pkg = file.lastIndexOf('/node_modules/');
    if (pkg < 0) return `${basename(file)}:${line}`;
    fallback ||= `${file.slice(pkg + '/node_modules/'.length)}:${line}`;
  }
  return fallback || 'an unknown place';
}

/** Same listeners, same order: the same app (Express's app function, Fastify's httpHandler). */
function sameHandlers(a: Handler[], b: Handler[]): boolean {
  return a.length === b.length && a.every((h, i) => h === b[i]);
}

function handlerName(handlers: Handler[]): string {
  return handlers.map((h) => (h.name ? `${h.name}()` : 'an anonymous function')).join(' + ');
}

function describeCall(c: Listened): string {
  return `listen(${c.target}) at ${c.site} (request handler: ${handlerName(c.handlers)})`;
}

/**
 * Replaces net.Server.prototype.listen in this worker thread (once; never on the main thread,
 * where loadApp also runs in tests). `notice` gets one line per intercepted call; `warn` gets
 * a server listened on after the app was chosen whose handler is another one.
 */
export function captureListen(notice: (text: string) => void, warn: (text: string) => void = notice): void {
  say = { notice, warn };
  if (installed || isMainThread) return; // the hostd process's own servers are not the app's
  installed = true;
  const original = net.Server.prototype.listen as unknown as Listen;
  (net.Server.prototype as unknown as { listen: Listen }).listen = function listen(this: net.Server, ...args: unknown[]): net.Server {
    if (this.listenerCount('request') === 0) return original.apply(this, args);
    const cb = typeof args[args.length - 1] === 'function' ? (args.pop() as () => void) : undefined;
    const t = targetOf(args);
    const call: Listened = {
      server: this,
      target: t.text,
      site: callSite(listen as Handler),
      handlers: this.listeners('request') as Handler[],
    };
    const twin = calls.find((c) => c.server !== this && sameHandlers(c.handlers, call.handlers));
    if (!calls.some((c) => c.server === this)) calls.push(call);
    say.notice(
      `the app called listen(${t.text}): hostd serves its requests on this mount and binds no port of its own` +
        (twin ? ` (same request handler as listen(${twin.target}): one app)` : ''),
    );
    if (chosen && chosen.server !== this && !sameHandlers(chosen.handlers, call.handlers)) {
      say.warn(
        `the app called ${describeCall(call)} after hostd took ${describeCall(chosen)} as the app; ` +
          `that server's requests are not served (export the app hostd should serve, or mount each in its own module)`,
      );
    }
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
 * came. Several servers with one request handler are one app (the first is returned); servers
 * with different handlers are an error that names each, since which one is the app is a guess.
 */
export async function listenedServer(waitMs: number): Promise<net.Server | null> {
  if (calls.length === 0 && waitMs > 0) {
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      arrived = resolve;
      timer = setTimeout(resolve, waitMs);
    });
    clearTimeout(timer);
    arrived = null;
  }
  const first = calls[0];
  if (!first) return null;
  const apps: Listened[] = [];
  for (const c of calls) if (!apps.some((a) => sameHandlers(a.handlers, c.handlers))) apps.push(c);
  if (apps.length > 1) {
    throw new Error(
      `the app called listen() on ${apps.length} HTTP servers with different request handlers: ` +
        `${apps.map(describeCall).join('; ')}. hostd serves one app per mount: export the one it should ` +
        `serve (export default / module.exports), or mount each from its own module`,
    );
  }
  chosen = first;
  return first.server;
}

/**
 * The HTTP server the app listened on (the one taken as the app, else the first), or null: a
 * node app exported as an Express app may attach `ws` or socket.io to a server of its own
 * (daemon/app/ws-bridge.ts hands that server its upgrades).
 */
export function capturedServer(): net.Server | null {
  return chosen?.server ?? calls[0]?.server ?? null;
}
