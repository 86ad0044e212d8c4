// The header block node:http's ServerResponse wrote (status line and header lines, as they would
// go on the wire) read back into a fetch status and Headers, without the hop-by-hop headers Node
// adds for its own connection handling. Separate from the adapter: it is a parser with no state.
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
