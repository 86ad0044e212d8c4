// Which content coding a response gets: pure functions, memoised so that the per-request cost
// is a couple of Map lookups.
//
// The rules (hostd's, and what nginx's gzip module and Express's `compression` do):
// - only when enabled, for a compressible Content-Type (the `compressible` database, or the
//   mount's `types` list), for a body of at least minSize bytes (or of unknown size: a stream);
// - never for a body that already has a Content-Encoding, for Cache-Control: no-transform,
//   for statuses without a body of their own (1xx, 204, 206, 304), or for Range requests (a
//   range is served from the identity bytes: on-the-fly output is not a stable byte sequence
//   to take ranges of, see static/encoding.ts);
// - br or gzip by the client's Accept-Encoding q-values (negotiator: q=0 refuses, "*" counts,
//   identity may win); br preferred on equal q since it is smaller;
// - Vary: Accept-Encoding whenever the answer *could* depend on Accept-Encoding, i.e. the
//   response is a candidate, whatever this client asked for; so caches keep them apart.
import compressible from 'compressible';
import Negotiator from 'negotiator';
import { DEFAULT_COMPRESSION } from '../config/compression.js';
import type { ResolvedCompression } from '../config/types.js';

export type Coding = 'br' | 'gzip';

/** The settings in force when a mount has none (on, 1 KiB, gzip 6, brotli 5). */
export { DEFAULT_COMPRESSION };
export type CompressionSettings = Readonly<ResolvedCompression>;

// ---- Accept-Encoding ----

/** Preference on equal q: br is smaller. */
const PREFERRED = ['br', 'gzip', 'identity'];
/** Offers by mask (1: br available, 2: gzip available). */
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
  // When identity itself is refused ("identity;q=0") and nothing else is acceptable we still
  // send identity: a 406 helps nobody.
  return best === 'br' || best === 'gzip' ? best : null;
}

/**
 * The coding the client prefers among those available (`hasBr`, `hasGzip`), or null for
 * identity. An empty header means no preference: identity. Memoised per header string (clients
 * send a handful of distinct ones; the memo is cleared when it reaches 512 strings, so hostile
 * variety cannot grow it).
 */
export function negotiateCoding(acceptEncoding: string, hasBr = true, hasGzip = true): Coding | null {
  const mask = (hasBr ? 1 : 0) | (hasGzip ? 2 : 0);
  if (mask === 0 || acceptEncoding === '') return null;
  const m = memo[mask];
  let hit = m.get(acceptEncoding);
  if (hit === undefined) {
    hit = negotiate(acceptEncoding, mask);
    if (m.size >= MEMO_MAX) m.clear();
    m.set(acceptEncoding, hit);
  }
  return hit;
}

// ---- Content-Type ----

/**
 * Overrides of the database: mime-db 1.54 marks application/octet-stream compressible, but it
 * is the type of "unknown bytes" (archives, images served without an extension); compressing
 * those costs CPU for nothing. A mount that wants it lists it in `types`.
 */
const NOT_COMPRESSIBLE = new Set(['application/octet-stream']);

const typeMemo = new Map<string, boolean>();
const typeMemoBySettings = new WeakMap<readonly string[], Map<string, boolean>>();

/** The media type of a Content-Type value, lowercased, without parameters. */
export function mediaType(contentType: string): string {
  const semi = contentType.indexOf(';');
  return (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
}

function matchesList(type: string, list: readonly string[]): boolean {
  const slash = type.indexOf('/');
  for (const t of list) {
    if (t === type) return true;
    if (t.endsWith('/*') && slash > 0 && type.slice(0, slash + 1) === t.slice(0, -1)) return true;
  }
  return false;
}

/**
 * Whether a Content-Type is worth compressing: in the mount's `types` list when it has one,
 * else by the `compressible` database (mime-db's flags, plus text/*, +json, +xml, +text).
 */
export function isCompressibleType(contentType: string, types: readonly string[] | null = null): boolean {
  if (contentType === '') return false;
  let m = typeMemo;
  if (types !== null) {
    let own = typeMemoBySettings.get(types);
    if (own === undefined) typeMemoBySettings.set(types, (own = new Map()));
    m = own;
  }
  let hit = m.get(contentType);
  if (hit === undefined) {
    const t = mediaType(contentType);
    hit = types !== null ? matchesList(t, types) : compressible(t) === true && !NOT_COMPRESSIBLE.has(t);
    if (m.size >= MEMO_MAX) m.clear();
    m.set(contentType, hit);
  }
  return hit;
}

// ---- the decision ----

/** What a response looks like, as far as compression cares. */
export interface EncodingInput {
  /** The request's Accept-Encoding ("" when absent). */
  acceptEncoding: string;
  /** The response's Content-Type ("" when absent). */
  contentType: string;
  /** The response's Content-Encoding ("" or undefined when absent). */
  contentEncoding?: string;
  /** The response's Cache-Control ("" or undefined when absent). */
  cacheControl?: string;
  /** Body bytes; -1 when not known in advance (a streamed response). */
  size: number;
  /** The request carries a Range header that will be honoured. */
  isRange?: boolean;
  /** Response status; default 200. */
  status?: number;
}

/** The answer: the coding to apply (null = identity) and whether to add Vary: Accept-Encoding. */
export interface EncodingChoice {
  readonly coding: Coding | null;
  readonly vary: boolean;
}

// Preallocated: a decision allocates nothing.
const NONE: EncodingChoice = Object.freeze({ coding: null, vary: false });
const IDENTITY_VARY: EncodingChoice = Object.freeze({ coding: null, vary: true });
const BR: EncodingChoice = Object.freeze({ coding: 'br', vary: true });
const GZIP: EncodingChoice = Object.freeze({ coding: 'gzip', vary: true });

const NO_TRANSFORM = /(?:^|,)\s*no-transform\s*(?:,|$)/i;

/** Statuses whose body is not a representation of its own to compress. */
function statusCompressible(status: number): boolean {
  return status >= 200 && status !== 204 && status !== 206 && status !== 304;
}

/**
 * Would this response be compressed for *some* client? (Then it carries Vary: Accept-Encoding.)
 * Everything but the client's Accept-Encoding and Range decides it.
 */
export function isCompressionCandidate(
  input: Omit<EncodingInput, 'acceptEncoding' | 'isRange'>,
  settings: CompressionSettings = DEFAULT_COMPRESSION,
): boolean {
  if (!settings.enabled) return false;
  if (input.status !== undefined && !statusCompressible(input.status)) return false;
  const ce = input.contentEncoding;
  if (ce !== undefined && ce !== '' && ce.toLowerCase() !== 'identity') return false;
  if (input.size >= 0 && input.size < settings.minSize) return false;
  const cc = input.cacheControl;
  if (cc !== undefined && cc !== '' && NO_TRANSFORM.test(cc)) return false;
  return isCompressibleType(input.contentType, settings.types);
}

/** The full decision: coding and Vary. Allocation-free. */
export function negotiateEncoding(input: EncodingInput, settings: CompressionSettings = DEFAULT_COMPRESSION): EncodingChoice {
  if (!isCompressionCandidate(input, settings)) return NONE;
  if (input.isRange) return IDENTITY_VARY;
  const coding = negotiateCoding(input.acceptEncoding);
  return coding === 'br' ? BR : coding === 'gzip' ? GZIP : IDENTITY_VARY;
}

/** Just the coding: 'br' | 'gzip' | null (identity). */
export function chooseEncoding(input: EncodingInput, settings: CompressionSettings = DEFAULT_COMPRESSION): Coding | null {
  return negotiateEncoding(input, settings).coding;
}

/**
 * The ETag of a representation hostd compressed itself: weak, as nginx makes it, since the
 * compressed bytes are not guaranteed byte-identical across zlib/brotli versions or levels
 * (a strong tag promises that). Weak comparison (If-None-Match) still matches the original.
 */
export function weakEtag(etag: string): string {
  return etag === '' || etag.startsWith('W/') ? etag : `W/${etag}`;
}

/** Appends Accept-Encoding to a Vary value unless already there (or "*"). */
export function addVaryAcceptEncoding(vary: string): string {
  if (vary === '') return 'Accept-Encoding';
  if (/(?:^|,)\s*(?:accept-encoding|\*)\s*(?:,|$)/i.test(vary)) return vary;
  return `${vary}, Accept-Encoding`;
}
