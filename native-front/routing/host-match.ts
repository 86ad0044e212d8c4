// Picks the virtual host for a Host header, the way nginx's server_name does: exact names
// first, then the longest matching "*.suffix" wildcard, then the catch-all.

/** "Example.COM:8080" → "example.com"; "[::1]:8080" → "[::1]"; trailing dot dropped. */
export function hostnameOf(hostHeader: string): string {
  let h = hostHeader.toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    h = end === -1 ? h : h.slice(0, end + 1);
  } else {
    const colon = h.indexOf(':');
    if (colon !== -1) h = h.slice(0, colon);
  }
  if (h.endsWith('.')) h = h.slice(0, -1);
  return h;
}

/**
 * RFC 9110 `uri-host [ ":" port ]`: a reg-name of unreserved and sub-delim characters (no
 * percent-encoding: no client needs it, and decoded it could smuggle "/" or "@" into the URL an
 * app builds), an IPv4 address, or an IP literal in brackets; an optional decimal port. "" (an
 * empty Host, allowed for targets without an authority) is valid too.
 */
const VALID_HOST = /^(?:\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9\-._~!$&'()*+,;=]*)(?::[0-9]{1,5})?$/;

export function isValidHost(hostHeader: string): boolean {
  return VALID_HOST.test(hostHeader);
}

/** What VhostTable.match answers for a Host header that is not a valid host (the front answers 400). */
export const INVALID_HOST: unique symbol = Symbol('invalid Host header');

export class VhostTable<T> {
  private readonly exact = new Map<string, T>();
  private wildcards: { suffix: string; value: T }[] = [];
  private fallback: T | undefined;
  // Raw Host header → result. Clients send a handful of distinct Host values, so this skips the
  // validation and lowercase/port-strip work on the hot path; bounded so random Host headers
  // cannot grow it.
  private readonly memo = new Map<string, T | undefined | typeof INVALID_HOST>();

  add(serverNames: readonly string[], isDefault: boolean, value: T): void {
    for (const name of serverNames) {
      if (name === '*') this.fallback = value;
      else if (name.startsWith('*.')) this.wildcards.push({ suffix: name.slice(1), value });
      else this.exact.set(name, value);
    }
    if (isDefault) this.fallback = value;
    this.wildcards.sort((a, b) => b.suffix.length - a.suffix.length);
    this.memo.clear();
  }

  match(hostHeader: string): T | undefined | typeof INVALID_HOST {
    const memo = this.memo.get(hostHeader);
    if (memo !== undefined || this.memo.has(hostHeader)) return memo;
    const value = isValidHost(hostHeader) ? this.lookup(hostnameOf(hostHeader)) : INVALID_HOST;
    if (this.memo.size >= 256) this.memo.clear();
    this.memo.set(hostHeader, value);
    return value;
  }

  private lookup(name: string): T | undefined {
    const hit = this.exact.get(name);
    if (hit !== undefined) return hit;
    for (const w of this.wildcards) if (name.endsWith(w.suffix) && name.length > w.suffix.length) return w.value;
    return this.fallback;
  }

  get size(): number {
    return this.exact.size + this.wildcards.length + (this.fallback === undefined ? 0 : 1);
  }
}
