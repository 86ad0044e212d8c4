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

export class VhostTable<T> {
  private readonly exact = new Map<string, T>();
  private wildcards: { suffix: string; value: T }[] = [];
  private fallback: T | undefined;
  // Raw Host header → result. Clients send a handful of distinct Host values, so this skips the
  // lowercase/port-strip work on the hot path; bounded so random Host headers cannot grow it.
  private readonly memo = new Map<string, T | undefined>();

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

  match(hostHeader: string): T | undefined {
    const memo = this.memo.get(hostHeader);
    if (memo !== undefined || this.memo.has(hostHeader)) return memo;
    const value = this.lookup(hostnameOf(hostHeader));
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
