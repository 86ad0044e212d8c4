// One stored response: its status, headers, identity body, freshness (computed once, at store or
// renewal time, so a hit is a clock comparison), and the compressed forms of its body, made
// lazily on the threadpool the first time a client asks for one and then kept beside it.
import { compressBody, negotiateCoding, weakEtag, type Coding, type CompressionSettings } from '../../shared/compress/index.js';
import { keyBytes, type CacheKey } from './keys.js';
import { ENTRY_BYTES, headerBytes, stringsBytes } from './memory.js';

export type XCacheLabel = 'HIT' | 'MISS' | 'STALE';

/** 0: identity, 1: gzip, 2: br. */
export type CodingIndex = 0 | 1 | 2;

/** What an entry needs from the cache that holds it. */
export interface EntryOwner {
  readonly compression: CompressionSettings;
  /** The entry's memory grew by `delta` bytes (a compressed form arrived). */
  grew(e: CachedEntry, delta: number): void;
}

/** Freshness of an entry, all in ms since the epoch (from the cache's clock). */
export interface Freshness {
  /** When the response was received (or renewed by a 304). */
  responseTime: number;
  /** Age the response already had then, in seconds (its Age header). */
  initialAge: number;
  /** Fresh before this. */
  freshUntil: number;
  /** May be served stale while one refresh runs before this (stale-while-revalidate). */
  swrUntil: number;
  /** May be served stale when the origin fails before this (stale-if-error). */
  sieUntil: number;
}

/**
 * Hits wait for the compressed form they want up to this body size (1 MiB: about 30 ms of
 * brotli 5 on the threadpool); larger bodies are answered in identity (or the other coding)
 * while their form is made.
 */
export const WAIT_FOR_CODING_MAX = 1 << 20;

export class CachedEntry implements Freshness {
  responseTime = 0;
  initialAge = 0;
  freshUntil = 0;
  swrUntil = 0;
  sieUntil = 0;
  /** False once evicted or purged. */
  live = true;
  /** Bytes counted against the cache's maxSize. */
  bytes: number;

  /** The compressed forms, when made (index 1 gzip, 2 br). */
  readonly coded: [null, Buffer | null, Buffer | null] = [null, null, null];
  /** The compressions in flight (index 1 gzip, 2 br). */
  private readonly jobs: [null, Promise<void> | null, Promise<void> | null] = [null, null, null];
  /** Codings not worth keeping (no smaller than identity, or zlib failed): never tried again. */
  private readonly refused: [boolean, boolean, boolean] = [false, false, false];
  /** Preformatted header blocks per coding (see write-hit.ts), built on first use. */
  readonly blocks: [Buffer | null, Buffer | null, Buffer | null] = [null, null, null];
  readonly blockNames: [string | null, string | null, string | null] = [null, null, null];
  readonly blocks304: [string | null, string | null, string | null] = [null, null, null];
  /** The whole header text of a 200 per coding ("name: value\r\n..."), built with the block. */
  readonly texts: [string | null, string | null, string | null] = [null, null, null];
  /** A HIT's Age, X-Cache and header lines in one value, per coding, for the age it was made at. */
  readonly hitHeads: [Buffer | null, Buffer | null, Buffer | null] = [null, null, null];
  readonly hitAges: [number, number, number] = [-1, -1, -1];

  constructor(
    readonly owner: EntryOwner,
    /** The slot it lives in (key.host, key.url) and the exact request it answers (keys.ts). */
    readonly key: CacheKey,
    /** Request header names the response varies on (lowercase), and the request's values. */
    readonly varyNames: readonly string[],
    readonly varyValues: readonly string[],
    public status: number,
    /** Stored response headers, flat [name, value, ...], names lowercase, minus NOT_STORED. */
    public headers: string[],
    readonly body: Buffer,
    /** The response may be compressed by hostd (compressible, big enough, no Content-Encoding, no no-transform). */
    public candidate: boolean,
    public mustRevalidate: boolean,
  ) {
    // Everything the entry keeps (memory.ts): what the Vary'd headers said counts as much as the body.
    this.bytes = ENTRY_BYTES + keyBytes(key) + stringsBytes(varyNames) + stringsBytes(varyValues) + body.length + headerBytes(headers);
  }

  get host(): string {
    return this.key.host;
  }

  get url(): string {
    return this.key.url;
  }

  header(name: string): string {
    const h = this.headers;
    for (let i = 0; i < h.length; i += 2) if (h[i] === name) return h[i + 1];
    return '';
  }

  get etag(): string {
    return this.header('etag');
  }

  get lastModified(): string {
    return this.header('last-modified');
  }

  /** Age in whole seconds at `now` (ms). */
  age(now: number): number {
    const resident = now - this.responseTime;
    return this.initialAge + (resident > 0 ? Math.floor(resident / 1000) : 0);
  }

  setFreshness(f: Freshness): void {
    this.responseTime = f.responseTime;
    this.initialAge = f.initialAge;
    this.freshUntil = f.freshUntil;
    this.swrUntil = f.swrUntil;
    this.sieUntil = f.sieUntil;
  }

  /** Replaces the headers (a 304 renewed the entry); preformatted blocks are rebuilt on use. */
  setHeaders(headers: string[], candidate: boolean, mustRevalidate: boolean): void {
    let delta = headerBytes(headers) - headerBytes(this.headers);
    this.headers = headers;
    this.candidate = candidate;
    this.mustRevalidate = mustRevalidate;
    this.blocks.fill(null);
    this.blockNames.fill(null);
    this.blocks304.fill(null);
    this.texts.fill(null);
    this.hitHeads.fill(null);
    if (!candidate) delta -= this.dropCoded();
    if (delta !== 0) this.owner.grew(this, delta);
  }

  /**
   * Which representation to answer `acceptEncoding` with right now: the best one already made.
   * When the client's first choice is not made yet, starts making it (served from the next hit
   * on); this hit gets identity or the other coding.
   */
  pick(acceptEncoding: string): CodingIndex {
    if (!this.candidate || acceptEncoding === '') return 0;
    const want = negotiateCoding(acceptEncoding);
    if (want === null) return 0;
    const wi: 1 | 2 = want === 'br' ? 2 : 1;
    if (this.coded[wi] !== null) return wi;
    this.make(want, wi);
    const other = negotiateCoding(acceptEncoding, this.coded[2] !== null, this.coded[1] !== null);
    return other === 'br' ? 2 : other === 'gzip' ? 1 : 0;
  }

  /** A candidate whose compressed forms are not all made (or refused) yet: hits ask ready(). */
  get incomplete(): boolean {
    return this.candidate && ((this.coded[1] === null && !this.refused[1]) || (this.coded[2] === null && !this.refused[2]));
  }

  /**
   * The making of the coding `acceptEncoding` prefers, when that form is not made yet (started
   * here if need be), for bodies up to WAIT_FOR_CODING_MAX; else null. A hit waits for it, as a
   * static file's first request waits for its compressed form: each client gets its coding
   * from the first hit on, and the work is done once whatever the number of clients waiting.
   */
  ready(acceptEncoding: string): Promise<void> | null {
    if (!this.candidate || acceptEncoding === '' || this.body.length > WAIT_FOR_CODING_MAX) return null;
    const want = negotiateCoding(acceptEncoding);
    if (want === null) return null;
    const wi: 1 | 2 = want === 'br' ? 2 : 1;
    if (this.coded[wi] !== null) return null;
    return this.make(want, wi);
  }

  /** The ETag a representation carries: the origin's, weakened for forms hostd made. */
  etagOf(c: CodingIndex): string {
    return c === 0 ? this.etag : weakEtag(this.etag);
  }

  /** Frees the compressed forms (evicted, or no longer a candidate); returns the bytes freed. */
  dropCoded(): number {
    const n = (this.coded[1]?.length ?? 0) + (this.coded[2]?.length ?? 0);
    this.coded[1] = null;
    this.coded[2] = null;
    return n;
  }

  private make(coding: Coding, c: 1 | 2): Promise<void> | null {
    const running = this.jobs[c];
    if (running !== null) return running;
    if (this.refused[c] || !this.live || this.body.length === 0) return null;
    const job = compressBody(this.body, coding, this.owner.compression.level).then(
      (out) => {
        this.jobs[c] = null;
        // Kept only when smaller, and only while the entry lives (it may have been evicted or
        // renewed into a non-candidate meanwhile).
        if (out.length >= this.body.length) this.refused[c] = true;
        if (!this.live || !this.candidate || out.length >= this.body.length || this.coded[c] !== null) return;
        this.coded[c] = out;
        this.owner.grew(this, out.length);
      },
      () => {
        this.jobs[c] = null;
        this.refused[c] = true; // a zlib failure only means this coding is not offered
      },
    );
    this.jobs[c] = job;
    return job;
  }
}
