// The miss path: find what a URL names on disk and load it, async only. Small files (all
// representations <= maxFileBytes) come back with their bytes, ready for the cache; larger
// representations come back with an open FileHandle, so the bytes streamed are those of the
// file that was stat'ed (no window between the stat and the open).
//
// Compression: a small file of a compressible type with no .br/.gz sibling gets the missing
// codings made here, once per version (the cache keeps them beside the identity bytes until the
// file changes), on the threadpool; concurrent misses of one version share one job. Files too
// big for the memory cache are streamed from disk as they are: compressing them on the fly
// would cost a compression per request and lose Content-Length and ranges.
import { constants as C, type Stats } from 'node:fs';
import { open, realpath, type FileHandle } from 'node:fs/promises';
import mime from 'mime-types';
import { compressBody, isCompressionCandidate, type Coding, type CompressionSettings } from '../../shared/compress/index.js';
import type { FileStamp, Representation, StaticResource } from './file-cache.js';
import { isInside } from './resolve-path.js';

export interface LoadOptions {
  /** The mount's directory (absolute, realpath'd). */
  root: string;
  index: string | false;
  precompressed: boolean;
  followSymlinks: boolean;
  maxFileBytes: number;
  /** On-the-fly compression of cached files without siblings; absent = none. */
  compression?: CompressionSettings;
}

export interface LoadedResource {
  kind: 'resource';
  resource: StaticResource;
  /** Open handles of the representations too big to cache (their `body` is null). */
  handles: Map<Representation, FileHandle>;
  /** Every representation fits in memory: the resource can go in the cache. */
  cacheable: boolean;
}

export type LoadResult =
  | LoadedResource
  | { kind: 'redirect' } // a directory asked for without its trailing slash
  | { kind: 'error'; status: 403 | 404 | 500 | 503; reason: string; err?: unknown };

/** O_NONBLOCK: opening a FIFO must not park a libuv thread waiting for a writer. */
const OPEN_FLAGS = C.O_RDONLY | (C.O_NONBLOCK ?? 0);
const NOT_FOUND = new Set(['ENOENT', 'ENOTDIR', 'ELOOP', 'ENAMETOOLONG', 'EINVAL']);
const FORBIDDEN = new Set(['EACCES', 'EPERM']);
/**
 * Out of descriptors (the process's or the system's) or kernel memory: the file is fine and a
 * retry a moment later will likely work, so 503 with Retry-After (the static mount adds it),
 * not 500. hostd stops accepting before it runs out (ops/descriptors.ts), but an app in a
 * worker can open files until none are left.
 */
const UNAVAILABLE = new Set(['EMFILE', 'ENFILE', 'ENOMEM', 'EAGAIN']);

class LoadError extends Error {
  constructor(
    readonly status: 403 | 404 | 500 | 503,
    readonly reason: string,
    readonly err?: unknown,
  ) {
    super(reason);
  }
}

function fsError(err: unknown, what: string): LoadError {
  const code = (err as NodeJS.ErrnoException)?.code ?? '';
  if (NOT_FOUND.has(code)) return new LoadError(404, `${what}: ${code}`);
  if (FORBIDDEN.has(code)) return new LoadError(403, `${what}: ${code}`, err);
  if (UNAVAILABLE.has(code)) return new LoadError(503, `${what}: ${code}`, err);
  return new LoadError(500, `${what}: ${code || String(err)}`, err);
}

interface Opened {
  fh: FileHandle;
  st: Stats;
}

/** Opens `path` and fstats it; null when it does not exist. Other failures throw LoadError. */
async function openStat(path: string): Promise<Opened | null> {
  let fh: FileHandle;
  try {
    fh = await open(path, OPEN_FLAGS);
  } catch (err) {
    const e = fsError(err, 'open');
    if (e.status === 404) return null;
    throw e;
  }
  try {
    return { fh, st: await fh.stat() };
  } catch (err) {
    await fh.close().catch(() => {});
    throw fsError(err, 'fstat');
  }
}

function etagOf(st: Stats, size: number, coding: '' | 'br' | 'gzip'): string {
  const suffix = coding === '' ? '' : coding === 'br' ? '-br' : '-gz';
  return `"${Math.floor(st.mtimeMs).toString(16)}-${size.toString(16)}${suffix}"`;
}

/**
 * What a mount's compression settings add to its cache keys: mounts that would make different
 * representations of one file must not share its entry.
 */
export function compressionKey(z: CompressionSettings): string {
  if (!z.enabled) return '';
  return `/c${z.minSize},${z.level.gzip},${z.level.br}${z.types === null ? '' : `,${z.types.join(' ')}`}`;
}

/** Compressions in flight, by file version, coding and level: concurrent misses share one. */
/**
 * Files compressed on the fly (once per version) up to this size; larger ones are served as they
 * are unless they have a .br/.gz sibling: brotli at level 5 takes tens of milliseconds per MB of
 * a worker thread of libuv's pool, fine once per version of a page or a bundle, not of a video.
 */
const MAX_GENERATED_BYTES = 1024 * 1024;

const compressing = new Map<string, Promise<Buffer | null>>();

/**
 * A representation hostd makes from the identity bytes. Its ETag is weak (W/"<mtime>-<size>-br",
 * from the identity file): the bytes are ours, not a file's, and are not promised byte-identical
 * across zlib versions. Null when the output would not be smaller.
 */
async function generate(identity: Representation, coding: Coding, settings: CompressionSettings): Promise<Representation | null> {
  const level = coding === 'br' ? settings.level.br : settings.level.gzip;
  const key = `${identity.path}\0${identity.etag}\0${coding}${level}`;
  let job = compressing.get(key);
  if (job === undefined) {
    job = compressBody(identity.body!, coding, settings.level).then(
      (b) => (b.length < identity.size ? b : null),
      () => null, // a zlib failure only means this coding is not offered
    );
    compressing.set(key, job);
    void job.finally(() => compressing.delete(key));
  }
  const body = await job;
  if (body === null) return null;
  return {
    coding,
    path: identity.path,
    body,
    size: body.length,
    mtimeMs: identity.mtimeMs,
    sizeText: String(body.length),
    etag: `W/${identity.etag.slice(0, -1)}-${coding === 'br' ? 'br' : 'gz'}"`,
    lastModified: identity.lastModified,
    unsatisfiedRange: `bytes */${body.length}`,
    head: null,
    generated: true,
  };
}

function stampOf(path: string, st: Stats | null): FileStamp {
  if (st === null || !st.isFile()) return { path, ino: -1, size: -1, mtimeMs: -1 };
  return { path, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs };
}

async function readAll(fh: FileHandle, size: number): Promise<Buffer> {
  // allocUnsafeSlow: a small Buffer.allocUnsafe is a slice of a shared 8 KiB pool, and a
  // cached body would pin the whole pool slab for as long as it lives.
  const buf = Buffer.allocUnsafeSlow(size);
  let off = 0;
  while (off < size) {
    const { bytesRead } = await fh.read(buf, off, size - off, off);
    if (bytesRead === 0) break; // shrank under us: serve what is there; revalidation drops it
    off += bytesRead;
  }
  return off === size ? buf : buf.subarray(0, off);
}

/**
 * Builds one representation from an opened regular file: reads it when small (and closes the
 * handle), else keeps the handle open in `handles`.
 */
async function represent(
  o: Opened,
  path: string,
  coding: '' | 'br' | 'gzip',
  opts: LoadOptions,
  handles: Map<Representation, FileHandle>,
): Promise<Representation> {
  let body: Buffer | null = null;
  let size = o.st.size;
  if (size <= opts.maxFileBytes) {
    try {
      body = await readAll(o.fh, size);
    } catch (err) {
      throw fsError(err, 'read');
    } finally {
      await o.fh.close().catch(() => {});
    }
    size = body.length;
  }
  const rep: Representation = {
    coding,
    path,
    body,
    size,
    mtimeMs: o.st.mtimeMs,
    sizeText: String(size),
    etag: etagOf(o.st, size, coding),
    lastModified: new Date(o.st.mtimeMs).toUTCString(),
    unsatisfiedRange: `bytes */${size}`,
    head: null,
  };
  if (body === null) handles.set(rep, o.fh);
  return rep;
}

/** Refuses (404) a file whose real path leaves the mount directory, unless followSymlinks. */
async function checkInside(path: string, opts: LoadOptions): Promise<boolean> {
  if (opts.followSymlinks) return true;
  try {
    return isInside(opts.root, await realpath(path));
  } catch {
    return false;
  }
}

/** An optional precompressed sibling: null when absent, not a regular file or outside root. */
async function loadSibling(
  path: string,
  coding: 'br' | 'gzip',
  opts: LoadOptions,
  handles: Map<Representation, FileHandle>,
  stamps: FileStamp[],
): Promise<Representation | null> {
  let o: Opened | null;
  try {
    o = await openStat(path);
  } catch {
    o = null; // an unreadable sibling is simply not offered
  }
  stamps.push(stampOf(path, o?.st ?? null));
  if (o === null) return null;
  if (!o.st.isFile() || !(await checkInside(path, opts))) {
    await o.fh.close().catch(() => {});
    return null;
  }
  return represent(o, path, coding, opts, handles);
}

/**
 * Loads what `path` (from resolveUrlPath) names: a file, or a directory's index when the URL
 * ended in "/". `key` becomes the cache key of the resource.
 */
export async function loadResource(key: string, path: string, trailingSlash: boolean, opts: LoadOptions): Promise<LoadResult> {
  const handles = new Map<Representation, FileHandle>();
  try {
    let o = await openStat(path);
    if (o === null) return { kind: 'error', status: 404, reason: 'not found' };
    if (o.st.isDirectory()) {
      await o.fh.close().catch(() => {});
      if (!trailingSlash) return { kind: 'redirect' };
      if (opts.index === false) return { kind: 'error', status: 403, reason: 'directory without index' };
      path = path.endsWith('/') ? path + opts.index : `${path}/${opts.index}`;
      o = await openStat(path);
      if (o === null) return { kind: 'error', status: 403, reason: 'directory without index' };
    } else if (trailingSlash) {
      await o.fh.close().catch(() => {});
      return { kind: 'error', status: 404, reason: 'not a directory' };
    }
    if (!o.st.isFile()) {
      await o.fh.close().catch(() => {});
      return { kind: 'error', status: 404, reason: 'not a regular file' };
    }
    if (!(await checkInside(path, opts))) {
      await o.fh.close().catch(() => {});
      return { kind: 'error', status: 404, reason: 'symlink leaves the mount directory' };
    }

    const stamps: FileStamp[] = [stampOf(path, o.st)];
    const identity = await represent(o, path, '', opts, handles);
    let br: Representation | null = null;
    let gzip: Representation | null = null;
    if (opts.precompressed) {
      [br, gzip] = await Promise.all([
        loadSibling(path + '.br', 'br', opts, handles, stamps),
        loadSibling(path + '.gz', 'gzip', opts, handles, stamps),
      ]);
    }
    const contentType = mime.contentType(path.slice(path.lastIndexOf('/') + 1)) || 'application/octet-stream';
    const z = opts.compression;
    if (
      z !== undefined &&
      identity.body !== null &&
      identity.size <= MAX_GENERATED_BYTES &&
      (br === null || gzip === null) &&
      isCompressionCandidate({ contentType, size: identity.size }, z)
    ) {
      [br, gzip] = await Promise.all([br ?? generate(identity, 'br', z), gzip ?? generate(identity, 'gzip', z)]);
    }
    const bytes = (identity.body?.length ?? 0) + (br?.body?.length ?? 0) + (gzip?.body?.length ?? 0);
    const resource: StaticResource = {
      key,
      contentType,
      identity,
      br,
      gzip,
      vary: br !== null || gzip !== null,
      stamps,
      bytes,
      live: false,
      checkedAt: Date.now(),
      checking: false,
    };
    return { kind: 'resource', resource, handles, cacheable: handles.size === 0 };
  } catch (err) {
    await closeHandles(handles);
    if (err instanceof LoadError) return { kind: 'error', status: err.status, reason: err.reason, err: err.err };
    return { kind: 'error', status: 500, reason: String(err), err };
  }
}

/** Closes every handle except `keep`. */
export async function closeHandles(handles: Map<Representation, FileHandle>, keep?: FileHandle): Promise<void> {
  const all: Promise<void>[] = [];
  for (const fh of handles.values()) if (fh !== keep) all.push(fh.close().catch(() => {}));
  handles.clear();
  await Promise.all(all);
}
