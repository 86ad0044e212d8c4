// The Cache-Control directives the cache acts on itself (http-cache-semantics decides storability
// and freshness lifetime; these are what it does not expose: the stale-* extensions of RFC 5861
// and the directives that forbid serving stale).

export interface Directives {
  noCache: boolean;
  noStore: boolean;
  private: boolean;
  public: boolean;
  mustRevalidate: boolean; // must-revalidate or proxy-revalidate (a shared cache obeys both)
  noTransform: boolean;
  sMaxAge: number; // seconds; -1 absent
  maxAge: number; // seconds; -1 absent
  staleWhileRevalidate: number; // seconds; 0 absent
  staleIfError: number; // seconds; 0 absent
}

function seconds(v: string | undefined): number {
  if (v === undefined) return -1;
  const n = Number.parseInt(v.replace(/^"|"$/g, ''), 10);
  return Number.isFinite(n) && n >= 0 ? n : -1;
}

/** Parses a Cache-Control value (directive names case-insensitive, values optionally quoted). */
export function parseDirectives(header: string | undefined): Directives {
  const d: Directives = {
    noCache: false,
    noStore: false,
    private: false,
    public: false,
    mustRevalidate: false,
    noTransform: false,
    sMaxAge: -1,
    maxAge: -1,
    staleWhileRevalidate: 0,
    staleIfError: 0,
  };
  if (header === undefined || header === '') return d;
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    const name = (eq === -1 ? part : part.slice(0, eq)).trim().toLowerCase();
    const value = eq === -1 ? undefined : part.slice(eq + 1).trim();
    switch (name) {
      case 'no-cache':
        d.noCache = true;
        break;
      case 'no-store':
        d.noStore = true;
        break;
      case 'private':
        d.private = true;
        break;
      case 'public':
        d.public = true;
        break;
      case 'must-revalidate':
      case 'proxy-revalidate':
        d.mustRevalidate = true;
        break;
      case 'no-transform':
        d.noTransform = true;
        break;
      case 's-maxage':
        d.sMaxAge = seconds(value);
        break;
      case 'max-age':
        d.maxAge = seconds(value);
        break;
      case 'stale-while-revalidate':
        d.staleWhileRevalidate = Math.max(0, seconds(value));
        break;
      case 'stale-if-error':
        d.staleIfError = Math.max(0, seconds(value));
        break;
    }
  }
  return d;
}
