// Choosing a precompressed sibling (file.br, file.gz) from Accept-Encoding, with negotiator
// (q-values honoured, q=0 refuses, "*" counts). Clients send a handful of distinct
// Accept-Encoding strings, so answers are memoised per string and per set of available
// siblings: a cached-file hit pays one Map lookup, not a parse.
import Negotiator from 'negotiator';

export type Coding = 'br' | 'gzip';

/** Preference on equal q: br is smaller. */
const PREFERRED = ['br', 'gzip', 'identity'];
const OFFERS: Record<number, string[]> = {
  1: ['br', 'identity'],
  2: ['gzip', 'identity'],
  3: ['br', 'gzip', 'identity'],
};
const MEMO_MAX = 512;
const memo: Map<string, Coding | null>[] = [new Map(), new Map(), new Map(), new Map()];

function negotiate(acceptEncoding: string, mask: number): Coding | null {
  // negotiator 1.x takes a `preferred` order; @types/negotiator does not know it yet.
  const neg = new Negotiator({ headers: { 'accept-encoding': acceptEncoding } }) as unknown as {
    encodings(available: string[], opts: { preferred: string[] }): string[];
  };
  const best = neg.encodings(OFFERS[mask], { preferred: PREFERRED })[0];
  // When identity itself is refused and no sibling is acceptable we still send identity: a 406
  // for a static file helps nobody.
  return best === 'br' || best === 'gzip' ? best : null;
}

/**
 * The coding to serve, or null for the identity file. `hasBr`/`hasGzip` say which siblings
 * exist. An empty header means no preference: identity.
 */
export function chooseCoding(acceptEncoding: string, hasBr: boolean, hasGzip: boolean): Coding | null {
  const mask = (hasBr ? 1 : 0) | (hasGzip ? 2 : 0);
  if (mask === 0 || acceptEncoding === '') return null;
  const m = memo[mask];
  let hit = m.get(acceptEncoding);
  if (hit === undefined) {
    hit = negotiate(acceptEncoding, mask);
    if (m.size >= MEMO_MAX) m.clear(); // hostile clients cannot grow it without bound
    m.set(acceptEncoding, hit);
  }
  return hit;
}
