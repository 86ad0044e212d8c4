// Session affinity for one pool on one front: requests that carry a session key go to the worker
// that holds the session. Needed wherever an app keeps sessions in memory and the pool has more
// than one worker: socket.io's long-polling transport (a session's polls and its upgrade must
// reach the worker that made it), express-session's MemoryStore, and the like.
//
// Where the bindings come from:
// - engine.io's sid (socket.io), with no configuration: the worker that creates a session says
//   "sid X is mine" to every front (stickyClaim, sent when engine.io generates the id: see
//   daemon/app/engine-io.ts), before its handshake answer leaves. Requests carry it as `sid=` in
//   the query, next to `EIO=`.
// - pool.sticky.cookie: a cookie's value belongs to the worker whose response set it.
// - pool.sticky.query: a query parameter's value belongs to the worker that first served it.
// A binding ends with its worker (the session is gone with it: engine.io then answers 400 and the
// client reconnects), or when the table is full (the oldest binding goes first).
import type { StickyConfig } from '../../shared/config/types.js';
import { WORKER_READY } from '../../shared/protocol/board.js';
import type { Exchange } from './types.js';
import type { WorkerLink } from './worker-link.js';

/** Bindings kept per pool per front; past this the oldest are dropped. */
const MAX_BINDINGS = 100_000;
/** A sticky request is not held back by `concurrency`: its worker is the only one that can serve it. */
const NO_LIMIT = Number.MAX_SAFE_INTEGER;

/** The value of query parameter `name` in `url` (raw, still percent-encoded), or "". */
export function queryParam(url: string, name: string): string {
  const q = url.indexOf('?');
  if (q < 0) return '';
  let i = q + 1;
  while (i < url.length) {
    let end = url.indexOf('&', i);
    if (end < 0) end = url.length;
    if (url.startsWith(name, i) && url.charCodeAt(i + name.length) === 61 /* = */) return url.slice(i + name.length + 1, end);
    i = end + 1;
  }
  return '';
}

/** The value of cookie `name` in a Cookie header, or "". */
export function cookieValue(header: string, name: string): string {
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return '';
}

function header(flat: readonly string[], name: string): string {
  for (let i = 0; i < flat.length; i += 2) if (flat[i] === name) return flat[i + 1];
  return '';
}

export class StickySessions {
  private readonly owners = new Map<string, WorkerLink>();
  readonly cookie: string | null;
  readonly query: string | null;

  constructor(cfg: StickyConfig | undefined) {
    this.cookie = cfg?.cookie ?? null;
    this.query = cfg?.query ?? null;
  }

  get size(): number {
    return this.owners.size;
  }

  /** `link`'s worker holds session `key`. */
  claim(link: WorkerLink, key: string): void {
    if (key === '' || link.gone) return;
    this.owners.delete(key); // re-inserted last: the most recent binding is the last to go
    this.owners.set(key, link);
    if (this.owners.size > MAX_BINDINGS) this.owners.delete(this.owners.keys().next().value!);
  }

  /** The session keys `ex` carries (engine.io's sid first). */
  private keysOf(ex: Exchange): string[] {
    const keys: string[] = [];
    const url = ex.url;
    if (url.includes('EIO=')) {
      const sid = queryParam(url, 'sid');
      if (sid !== '') keys.push(`sid:${sid}`);
    }
    if (this.query !== null) {
      const v = queryParam(url, this.query);
      if (v !== '') keys.push(`q:${v}`);
    }
    if (this.cookie !== null) {
      const v = cookieValue(header(ex.headers, 'cookie'), this.cookie);
      if (v !== '') keys.push(`c:${v}`);
    }
    return keys;
  }

  /**
   * The worker `ex` must go to, its slot taken; null when the request carries no known session
   * (or its worker is not serving: then it goes anywhere, and the app decides).
   */
  pinned(ex: Exchange): WorkerLink | null {
    if (this.owners.size === 0) return null;
    for (const key of this.keysOf(ex)) {
      const link = this.owners.get(key);
      if (link === undefined) continue;
      if (link.gone || link.board.state !== WORKER_READY) return null;
      link.board.claim(NO_LIMIT);
      return link;
    }
    return null;
  }

  /** pool.sticky.query: a value seen for the first time belongs to the worker it was just given to. */
  assigned(ex: Exchange, link: WorkerLink): void {
    if (this.query === null) return;
    const v = queryParam(ex.url, this.query);
    if (v !== '' && !this.owners.has(`q:${v}`)) this.claim(link, `q:${v}`);
  }

  /**
   * pool.sticky.cookie: a response of `link` that sets the cookie binds its value to that worker.
   * The head comes preformatted (daemon/worker/response-parts.ts): the first header's name, then
   * its value and every other header as "\r\nname: value".
   */
  sawResponse(link: WorkerLink, headName: string, headRest: string): void {
    const name = this.cookie!;
    const lines = `${headName}: ${headRest}`.split('\r\n');
    for (const line of lines) {
      if (!line.startsWith('set-cookie:')) continue;
      const v = line.slice(11).trim();
      const eq = v.indexOf('=');
      if (eq <= 0 || v.slice(0, eq).trim() !== name) continue;
      const semi = v.indexOf(';', eq);
      this.claim(link, `c:${v.slice(eq + 1, semi < 0 ? v.length : semi).trim()}`);
    }
  }

  /** A claim from a worker: engine.io's session ids arrive as "sid:<id>". */
  claimed(link: WorkerLink, key: string): void {
    this.claim(link, key);
  }

  /** The worker is gone, and its sessions with it. */
  forget(link: WorkerLink): void {
    for (const [key, owner] of this.owners) if (owner === link) this.owners.delete(key);
  }
}
