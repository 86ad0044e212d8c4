// A node response's head for the front, without the hop-by-hop headers Node adds for its own
// connection handling: on the direct path (node-direct.ts) the headers ServerResponse holds, taken
// as values; in the fetch wrapper (node-adapter.ts) the header block it wrote (status line and
// header lines, as on the wire) read back into a fetch status and Headers. No state here.
import { validateHeaderName, validateHeaderValue } from 'node:http';

/** Response statuses that must not carry a body (the Response constructor rejects one). */
export const NULL_BODY = new Set([101, 103, 204, 205, 304]);
/** Hop-by-hop headers Node writes for its own connection handling; the front owns framing. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding']);

export interface ParsedHead {
  status: number;
  statusText: string;
  headers: Headers;
}

/** `head`: the block without its final blank line. Throws on a status line that is not HTTP/1.x. */
export function parseHead(head: string): ParsedHead {
  const lines = head.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0] ?? '');
  if (!m) throw new Error(`node adapter: unexpected status line ${JSON.stringify(lines[0])}`);
  const headers = new Headers();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim();
    if (HOP_BY_HOP.has(name.toLowerCase())) continue;
    // Each Set-Cookie is its own line in Node's head; append keeps them separate (getSetCookie()).
    headers.append(name, line.slice(colon + 1).trim());
  }
  return { status: Number(m[1]), statusText: m[2] ?? '', headers };
}

// ---- The direct path (node-direct.ts): the head taken as values, never written as text.

type HeaderValue = string | number | readonly (string | number)[] | undefined;

/** One header of a response into a flat lowercase list: an array value is one line per element (Node's rule). */
function pushHeader(out: string[], name: string, value: HeaderValue, validate: boolean): void {
  if (validate) validateHeaderName(name);
  const lower = name.toLowerCase();
  if (HOP_BY_HOP.has(lower)) return; // the front owns framing and the connection
  if (Array.isArray(value)) {
    // As node:http's processHeader: several Cookie values are one line, anything else one line each.
    if (value.length >= 2 && lower === 'cookie') {
      const joined = value.join('; ');
      if (validate) validateHeaderValue(name, joined);
      out.push(lower, joined);
      return;
    }
    for (const v of value) {
      if (validate) validateHeaderValue(name, v);
      out.push(lower, String(v));
    }
    return;
  }
  if (validate) validateHeaderValue(name, value as string); // throws for undefined, as node:http does
  out.push(lower, String(value));
}

/**
 * The headers ServerResponse's _storeHeader was given, as a flat [name, value, ...] list with
 * lowercase names: `outHeaders` (res[kOutHeaders], filled by setHeader, which validated them)
 * or what writeHead(status, headers) got without any setHeader before it (an object, a flat
 * array or an array of pairs, validated here as node:http would).
 */
export function headValues(headers: unknown, outHeaders: unknown): string[] {
  const out: string[] = [];
  if (headers === null || headers === undefined) return out;
  if (headers === outHeaders) {
    const map = headers as Record<string, [string, HeaderValue]>;
    for (const key in map) {
      const entry = map[key]!;
      pushHeader(out, entry[0], entry[1], false);
    }
    return out;
  }
  if (Array.isArray(headers)) {
    if (headers.length > 0 && Array.isArray(headers[0])) {
      for (const pair of headers as [string, HeaderValue][]) pushHeader(out, pair[0], pair[1], true);
      return out;
    }
    if (headers.length % 2 !== 0)
      throw Object.assign(new TypeError("The argument 'headers' is invalid"), { code: 'ERR_INVALID_ARG_VALUE' });
    for (let i = 0; i < headers.length; i += 2) pushHeader(out, headers[i] as string, headers[i + 1] as HeaderValue, true);
    return out;
  }
  const obj = headers as Record<string, HeaderValue>;
  for (const key in obj) if (Object.hasOwn(obj, key)) pushHeader(out, key, obj[key], true);
  return out;
}
