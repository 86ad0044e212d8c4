// Syntax of server names and mount URLs, and their normal forms.
import { isIPv4, isIPv6 } from 'node:net';

const LABEL_RE = /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/;

/**
 * A server name as written -> its lowercase form ({ name }), or why it is not one ({ error }).
 * Accepts "*" (catch-all), "*.example.com" (any subdomain), host names, IPv4 and "[v6]" literals.
 */
export function normalizeServerName(raw: string): { name: string } | { error: string } {
  const s = raw.trim().toLowerCase().replace(/\.$/, '');
  const q = JSON.stringify(raw);
  if (s === '*') return { name: '*' };
  if (s === '') return { error: 'a server name must not be empty' };
  if (/^[a-z][a-z0-9+.-]*:\/\//.test(s) || s.includes('/')) {
    return { error: `${q} is not a server name: give the host name only (no scheme or path)` };
  }
  if (s.startsWith('[') && s.endsWith(']')) {
    return isIPv6(s.slice(1, -1)) ? { name: s } : { error: `${q} is not a valid IPv6 address` };
  }
  if (isIPv6(s)) return { error: `${q}: write an IPv6 server name in brackets, as in the Host header ("[${s}]")` };
  if (/:\d*$/.test(s)) return { error: `${q}: a server name has no port (the port goes in listen)` };
  if (isIPv4(s)) return { name: s };
  const wildcard = s.startsWith('*.');
  const rest = wildcard ? s.slice(2) : s;
  if (rest.includes('*')) {
    return { error: `${q} is not a valid server name (a wildcard is "*" alone or a leading "*.")` };
  }
  if (rest.length > 253 || !rest.split('.').every((l) => LABEL_RE.test(l))) {
    return { error: `${q} is not a valid server name (letters, digits, "-" and "." only)` };
  }
  return { name: wildcard ? `*.${rest}` : rest };
}

/**
 * A mount URL as written -> normal form: leading "/", no trailing "/", "" for the root mount.
 * Non-ASCII characters are percent-encoded, since the router compares against the raw URL.
 */
export function normalizeMountUrl(raw: string): { url: string } | { error: string } {
  const q = JSON.stringify(raw);
  if (!raw.startsWith('/')) return { error: `${q} must start with "/"` };
  if (/[?#]/.test(raw)) return { error: `${q} must be a path only (no "?" or "#")` };
  if (/[\s\x00-\x1f\x7f]/.test(raw)) return { error: `${q} must not contain spaces or control characters` };
  const segs = raw.slice(1).split('/');
  if (segs.length > 0 && segs[segs.length - 1] === '') segs.pop(); // trailing slash
  if (segs.some((s) => s === '')) return { error: `${q} must not contain "//"` };
  if (segs.some((s) => s === '.' || s === '..')) return { error: `${q} must not contain "." or ".." segments` };
  const url = segs.length ? '/' + segs.join('/') : '';
  return { url: url.replace(/[^\x21-\x7e]/gu, (c) => encodeURIComponent(c)) };
}
