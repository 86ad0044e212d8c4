// The front's memory cache of small, hot static files: their bytes plus every header value
// precomputed, so a hit is answered with no fs call and no string building. One cache per host,
// shared by all static mounts; bounded by total bytes, least recently used out first.
//
// Representations: the file, its .br/.gz siblings, and for compressible files without a
// sibling the compressed forms hostd made once for this version (load.ts), so a hit never
// compresses. They live and die with the entry: a changed file drops them all.
//
// Freshness: an entry is revalidated (async fs.stat of the file and its .br/.gz siblings, which
// also notices a sibling appearing) at most once per `revalidateMs` (1 s), triggered by a hit.
// The hit that triggers it is served from memory; if the stat shows a change (mtime, size or
// inode, or a sibling appearing/disappearing) the entry is dropped and the next request refills
// it from disk. So new bytes and a new ETag show up within about a second of the first request
// after the change.
import fs from 'node:fs';

/** One servable representation of a resource: the file itself or a precompressed sibling. */
export interface Representation {
  /** "" for the identity file, else the Content-Encoding value. */
  readonly coding: '' | 'br' | 'gzip';
  readonly path: string;
  /** The bytes when cached; null for files streamed from disk. Emptied when the entry dies. */
  body: Buffer | null;
  readonly size: number;
  readonly mtimeMs: number;
  /** String(size), for HEAD (Content-Length written by hand, see respond.ts). */
  readonly sizeText: string;
  /** Strong ETag, nginx style: "<mtime ms hex>-<size hex>", plus "-br"/"-gz" for siblings. */
  readonly etag: string;
  /** HTTP-date of mtime. */
  readonly lastModified: string;
  /** "bytes *\/size" for 416 answers. */
  readonly unsatisfiedRange: string;
  /** The header block of its 200/206 answers, preformatted for one mount's Cache-Control (see respond.ts). */
  head: { cacheControl: string; bytes: Buffer } | null;
  /**
   * Made by hostd from the identity bytes (no sibling file): weak ETag, and Range requests are
   * answered from the identity representation instead (see respond.ts planResponse).
   */
  readonly generated?: boolean;
}

/** What the cache watches for one path: -1 inode means "did not exist (or was not a file)". */
export interface FileStamp {
  readonly path: string;
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
}

/** A static resource: its representations and the headers shared by all of them. */
export interface StaticResource {
  /** Cache key (mount flags + absolute path). */
  readonly key: string;
  readonly contentType: string;
  readonly identity: Representation;
  readonly br: Representation | null;
  readonly gzip: Representation | null;
  /** A sibling exists: every answer carries Vary: Accept-Encoding. */
  readonly vary: boolean;
  readonly stamps: readonly FileStamp[];
  /** Bytes held (sum of the bodies). */
  readonly bytes: number;
  /** False once dropped from the cache: holders (mount URL indexes) must look again. */
  live: boolean;
  checkedAt: number;
  checking: boolean;
}

export interface FileCacheOptions {
  /** Total bytes of file bodies kept (per front); default 256 MiB. */
  maxBytes?: number;
  /**
   * Largest file kept in memory; larger ones are streamed from disk. Default 16 MiB: served from
   * memory a file costs one copy (into the socket), as nginx's sendfile does; streamed from
   * disk it costs two (read, then send), measured at about twice the CPU per byte.
   */
  maxFileBytes?: number;
  /** Minimum time between revalidations of one entry; default 1000 ms. */
  revalidateMs?: number;
}

export interface FileCacheStats {
  entries: number;
  bytes: number;
  hits: number;
  misses: number;
}

const EMPTY = Buffer.alloc(0);

/** Same identity on disk as when stamped? `st` null means the stat failed. */
export function stampMatches(stamp: FileStamp, st: fs.Stats | null): boolean {
  if (st === null || !st.isFile()) return stamp.ino === -1;
  return stamp.ino === st.ino && stamp.size === st.size && stamp.mtimeMs === st.mtimeMs;
}

export class FileCache {
  readonly maxBytes: number;
  readonly maxFileBytes: number;
  readonly revalidateMs: number;
  private readonly map = new Map<string, StaticResource>();
  private total = 0;
  private hits = 0;
  private misses = 0;
  /** The most recently used entry: re-hitting it skips the Map reordering. */
  private newest: StaticResource | null = null;

  constructor(opts: FileCacheOptions = {}) {
    this.maxBytes = opts.maxBytes ?? 256 * 1024 * 1024;
    this.maxFileBytes = opts.maxFileBytes ?? 16 * 1024 * 1024;
    this.revalidateMs = opts.revalidateMs ?? 1000;
  }

  /** Looks `key` up, counting a hit or a miss. */
  lookup(key: string): StaticResource | undefined {
    const e = this.map.get(key);
    if (e === undefined) {
      this.misses++;
      return undefined;
    }
    this.use(e);
    return e;
  }

  /**
   * Records a hit on an entry reached without `lookup` (a mount's URL index). Returns false,
   * counting nothing, when the entry is no longer cached.
   */
  hit(e: StaticResource): boolean {
    if (!e.live) return false;
    this.use(e);
    return true;
  }

  /** Counts a miss that never reached `lookup` (e.g. a directory URL that needs a stat). */
  miss(): void {
    this.misses++;
  }

  /** Inserts a fully loaded resource; false when it is too big to keep. */
  insert(e: StaticResource): boolean {
    if (e.bytes > this.maxFileBytes * 3 || e.bytes > this.maxBytes) return false;
    const old = this.map.get(e.key);
    if (old !== undefined) this.drop(old);
    this.map.set(e.key, e);
    this.total += e.bytes;
    e.live = true;
    this.newest = e;
    // Evict least recently used (Map iteration order is insertion order; hits re-insert).
    if (this.total > this.maxBytes) {
      for (const victim of this.map.values()) {
        if (this.total <= this.maxBytes) break;
        if (victim !== e) this.drop(victim);
      }
    }
    return true;
  }

  delete(key: string): void {
    const e = this.map.get(key);
    if (e !== undefined) this.drop(e);
  }

  clear(): void {
    for (const e of this.map.values()) this.drop(e);
  }

  stats(): FileCacheStats {
    return { entries: this.map.size, bytes: this.total, hits: this.hits, misses: this.misses };
  }

  private use(e: StaticResource): void {
    this.hits++;
    if (this.newest !== e) {
      this.map.delete(e.key);
      this.map.set(e.key, e);
      this.newest = e;
    }
    if (!e.checking) {
      const now = Date.now();
      if (now - e.checkedAt >= this.revalidateMs) this.revalidate(e);
    }
  }

  private drop(e: StaticResource): void {
    if (this.map.get(e.key) === e) {
      this.map.delete(e.key);
      this.total -= e.bytes;
    }
    if (this.newest === e) this.newest = null;
    e.live = false;
    // Stale references (mount URL indexes) must not pin the bytes.
    e.identity.body = EMPTY;
    if (e.br) e.br.body = EMPTY;
    if (e.gzip) e.gzip.body = EMPTY;
  }

  private revalidate(e: StaticResource): void {
    e.checking = true;
    let pending = e.stamps.length;
    let changed = false;
    const finish = () => {
      e.checking = false;
      e.checkedAt = Date.now();
      if (changed && e.live) this.drop(e);
    };
    for (const stamp of e.stamps) {
      fs.stat(stamp.path, (err, st) => {
        if (!stampMatches(stamp, err ? null : st)) changed = true;
        if (--pending === 0) finish();
      });
    }
  }
}
