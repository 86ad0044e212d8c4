// Request and response headers as the cache sees them. The hit path reads request headers one by
// one from the live uWS HttpRequest (getHeader); anything that outlives the handler (a waiter, a
// fill) works on a snapshot taken once with forEach.

/** What the cache reads from a request: uWS's HttpRequest has exactly this shape. */
export interface RequestView {
  /** Lowercase name; "" when absent. */
  getHeader(lowerCaseName: string): string;
  forEach(cb: (name: string, value: string) => void): void;
}

/** A request's headers copied out of the HttpRequest (or given as a flat [name, value, ...] list). */
export class HeaderSnapshot implements RequestView {
  /** Flat [name, value, ...], names lowercase; repeated names joined by ", " (Cookie by "; "). */
  readonly flat: string[];

  constructor(flat: readonly string[]) {
    const out: string[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const name = flat[i].toLowerCase();
      const value = flat[i + 1];
      let j = 0;
      for (; j < out.length; j += 2) if (out[j] === name) break;
      if (j < out.length) out[j + 1] += (name === 'cookie' ? '; ' : ', ') + value;
      else out.push(name, value);
    }
    this.flat = out;
  }

  /** Copies every header of a live request (uWS gives names lowercase). */
  static of(req: RequestView): HeaderSnapshot {
    if (req instanceof HeaderSnapshot) return req;
    const flat: string[] = [];
    req.forEach((k, v) => void flat.push(k, v));
    return new HeaderSnapshot(flat);
  }

  getHeader(name: string): string {
    const f = this.flat;
    for (let i = 0; i < f.length; i += 2) if (f[i] === name) return f[i + 1];
    return '';
  }

  forEach(cb: (name: string, value: string) => void): void {
    const f = this.flat;
    for (let i = 0; i < f.length; i += 2) cb(f[i], f[i + 1]);
  }

  /** As a plain object (what http-cache-semantics takes). */
  toObject(): Record<string, string> {
    const o: Record<string, string> = {};
    const f = this.flat;
    for (let i = 0; i < f.length; i += 2) o[f[i]] = f[i + 1];
    return o;
  }
}

/**
 * Response headers (flat [name, value, ...], as the worker protocol carries them) as an object
 * with lowercase names, repeated fields joined by ", "; `setCookie` says whether one was there.
 */
export function responseHeaderObject(flat: readonly string[]): { headers: Record<string, string>; setCookie: boolean } {
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  let setCookie = false;
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = flat[i].toLowerCase();
    if (name === 'set-cookie') setCookie = true;
    const prev = headers[name];
    headers[name] = prev === undefined ? flat[i + 1] : `${prev}, ${flat[i + 1]}`;
  }
  return { headers, setCookie };
}

/** Hop-by-hop and framing fields, and those the cache writes itself: never stored. */
export const NOT_STORED = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'content-length',
  'date', // uWS writes Date on every response; Age carries the entry's age
  'age',
  'set-cookie',
]);

/** A header name or value hostd would refuse to write (CR, LF or NUL inside). */
export function unsafeHeaderText(s: string): boolean {
  return /[\r\n\0]/.test(s);
}
