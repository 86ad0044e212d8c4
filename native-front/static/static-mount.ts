// A static mount (the Alias analogue): URL prefix -> directory, served on the front thread.
//
// Hit path (a small file already in the FileCache, reached through this mount's URL index):
// one Map lookup on the raw URL, at most five getHeader calls, precomputed header strings,
// one res.cork, res.end(buffer). No fs call, no path decoding, no closure.
// Miss path: decode and confine the path (resolve-path.ts), then async fs only (load.ts);
// small files are cached, large ones streamed with backpressure (stream-file.ts).
import { realpathSync } from 'node:fs';
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import type { ResolvedStatic } from '../../shared/config/types.js';
import { mountLabel, type Logger } from '../../shared/log.js';
import type { MountHandler, RequestContext } from '../routing/mount.js';
import type { FileCache, StaticResource } from './file-cache.js';
import { DEFAULT_COMPRESSION } from '../../shared/compress/index.js';
import { closeHandles, compressionKey, loadResource, type LoadOptions } from './load.js';
import { resolveUrlPath } from './resolve-path.js';
import { sendStatus } from '../http/answer.js';
import { BodySink } from '../http/sink.js';
import { HeaderSnapshot, planResponse, writeBodyless, writeHead, type HeaderSource, type Plan } from './respond.js';
import { FileStream } from './stream-file.js';

export interface StaticMountDeps {
  log: Logger;
  cache: FileCache;
}

/** Raw URLs remembered per mount; cleared wholesale when full (hostile URL variety). */
const URL_INDEX_MAX = 8192;

// The synchronous hit path plans into one preallocated object: no allocation per request.
const hitPlan: Plan = { status: 200, rep: null!, start: 0, end: 0 };

/**
 * Bodies from memory at least this large go out through the backpressure sink (tryEnd and
 * onWritable over the cached bytes) instead of one res.end: res.end copies whatever the socket
 * does not take at once into uWS's own buffer, per connection, so slow readers of large cached
 * files would cost a copy each.
 */
const SINK_FROM_BYTES = 64 * 1024;

/** A large body from memory: the cached bytes are offered to the socket as it drains. */
function streamFromMemory(res: HttpResponse, r: StaticResource, p: Plan, cacheControl: string, ctx: RequestContext): void {
  const body = p.status === 200 ? p.rep.body! : p.rep.body!.subarray(p.start, p.end + 1);
  let finished = false;
  const sink = new BodySink(res, body.length, (done) => {
    if (done && !finished) {
      finished = true;
      ctx.done(p.status, body.length);
    }
  });
  res.onAborted(() => {
    if (finished) return;
    finished = true;
    ctx.done(499, sink.written);
  });
  writeHead(res, r, p, cacheControl);
  if (ctx.closeConnection) res.writeHeader('Connection', 'close');
  if (sink.write(body) === 'done') {
    finished = true;
    ctx.done(p.status, body.length);
  }
}

/** Writes a whole answer for a representation whose bytes are in memory. Must run corked. */
function writeFromMemory(res: HttpResponse, r: StaticResource, p: Plan, cacheControl: string, isGet: boolean, close: boolean): number {
  if (!isGet || p.status === 304 || p.status === 416) return writeBodyless(res, r, p, cacheControl, isGet, close);
  writeHead(res, r, p, cacheControl);
  const body = p.rep.body!;
  if (p.status === 200) {
    res.end(body, close);
    return body.length;
  }
  res.end(body.subarray(p.start, p.end + 1), close);
  return p.end + 1 - p.start;
}

/** Out of descriptors for now (load.ts): come back in a second. */
const RETRY_SOON = { 'Retry-After': '1' };

/** A short text answer (error, redirect) for a static request. */
function answer(res: HttpResponse, ctx: RequestContext, status: number, isGet: boolean, headers?: Record<string, string>): number {
  return sendStatus(res, status, { head: !isGet, headers, close: ctx.closeConnection });
}

class StaticMount implements MountHandler {
  private readonly root: string;
  private readonly prefixLen: number;
  private readonly cacheControl: string;
  private readonly keyPrefix: string;
  private readonly loadOpts: LoadOptions;
  private readonly urlIndex = new Map<string, StaticResource>();
  private readonly streams = new Set<FileStream>();
  private inFlight = 0;
  private drained: (() => void) | null = null;

  constructor(
    private readonly cfg: ResolvedStatic,
    private readonly log: Logger,
    private readonly cache: FileCache,
  ) {
    // The resolver hands over a realpath'd dir; do it again (startup, sync is fine) so a
    // hand-built config cannot make the symlink confinement compare against a symlink.
    let root = cfg.dir;
    try {
      root = realpathSync(cfg.dir);
    } catch (err) {
      log.warn('static directory not found', { mount: mountLabel(cfg.url), dir: cfg.dir, code: (err as NodeJS.ErrnoException).code });
    }
    this.root = root.length > 1 && root.endsWith('/') ? root.slice(0, -1) : root;
    this.prefixLen = cfg.url.length;
    this.cacheControl =
      cfg.maxAge !== undefined ? `public, max-age=${Math.max(0, Math.floor(cfg.maxAge))}${cfg.immutable ? ', immutable' : ''}` : '';
    // Mounts that differ in what they would serve for one path must not share cache entries.
    const z = cfg.compression ?? DEFAULT_COMPRESSION;
    this.keyPrefix = `${cfg.precompressed ? 'z' : '-'}${cfg.followSymlinks ? 'l' : '-'}${compressionKey(z)}:`;
    this.loadOpts = {
      root: this.root,
      index: cfg.index,
      precompressed: cfg.precompressed,
      followSymlinks: cfg.followSymlinks,
      maxFileBytes: cache.maxFileBytes,
      compression: z.enabled ? z : undefined,
    };
  }

  handle(res: HttpResponse, req: HttpRequest, ctx: RequestContext): void {
    const method = ctx.method;
    const isGet = method === 'get';
    if (!isGet && method !== 'head') {
      ctx.done(405, answer(res, ctx, 405, true, { Allow: 'GET, HEAD' }));
      return;
    }
    const url = ctx.url;
    const known = this.urlIndex.get(url);
    if (known !== undefined) {
      if (this.cache.hit(known)) return this.serveHit(res, req, ctx, known, isGet);
      this.urlIndex.delete(url);
    }

    if (!url.startsWith(this.cfg.url)) {
      // The router matches raw URLs on segment boundaries, so this does not happen.
      ctx.done(404, answer(res, ctx, 404, isGet));
      return;
    }
    const resolved = resolveUrlPath(this.root, url.slice(this.prefixLen), { dotfiles: this.cfg.dotfiles });
    if (!resolved.ok) {
      if (resolved.status === 400) this.log.warn('static: refused path', this.fields(ctx, { url, reason: resolved.reason }));
      ctx.done(resolved.status, answer(res, ctx, resolved.status, isGet));
      return;
    }
    const target = resolved.trailingSlash
      ? this.cfg.index === false
        ? `${resolved.path}/`
        : `${resolved.path === '/' ? '' : resolved.path}/${this.cfg.index}`
      : resolved.path;
    const key = this.keyPrefix + target;
    const cached = this.cache.lookup(key);
    if (cached !== undefined) {
      this.remember(url, cached);
      return this.serveHit(res, req, ctx, cached, isGet);
    }
    this.serveMiss(res, req, ctx, isGet, key, resolved.path, resolved.trailingSlash);
  }

  private serveHit(res: HttpResponse, req: HeaderSource, ctx: RequestContext, r: StaticResource, isGet: boolean): void {
    planResponse(req, r, isGet, hitPlan);
    // Inside the uWS route handler the socket is already corked: no cork() round trip needed.
    if (isGet && hitPlan.end + 1 - hitPlan.start >= SINK_FROM_BYTES && (hitPlan.status === 200 || hitPlan.status === 206)) {
      return streamFromMemory(res, r, { ...hitPlan }, this.cacheControl, ctx);
    }
    ctx.done(hitPlan.status, writeFromMemory(res, r, hitPlan, this.cacheControl, isGet, ctx.closeConnection));
  }

  private remember(url: string, r: StaticResource): void {
    if (this.urlIndex.size >= URL_INDEX_MAX) this.urlIndex.clear();
    this.urlIndex.set(url, r);
  }

  private serveMiss(
    res: HttpResponse,
    req: HttpRequest,
    ctx: RequestContext,
    isGet: boolean,
    key: string,
    path: string,
    trailingSlash: boolean,
  ): void {
    const headers = new HeaderSnapshot(req);
    let aborted = false;
    let finished = false;
    let stream: FileStream | null = null;
    const done = (status: number, bytes: number) => {
      if (finished) return;
      finished = true;
      ctx.done(status, bytes);
    };
    res.onAborted(() => {
      aborted = true;
      if (stream !== null)
        stream.abort(); // reports through its end hook
      else done(499, 0);
    });
    this.inFlight++;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      if (--this.inFlight === 0 && this.drained !== null) this.drained();
    };

    loadResource(key, path, trailingSlash, this.loadOpts)
      .then(async (result) => {
        if (aborted) {
          if (result.kind === 'resource') await closeHandles(result.handles);
          return release();
        }
        if (result.kind === 'redirect') {
          // Keep the URL as sent (still encoded) and the query; collapse leading slashes so
          // "//evil.example" can never become a protocol-relative Location.
          const location = `${ctx.url.replace(/^\/+/, '/')}/${ctx.query !== '' ? `?${ctx.query}` : ''}`;
          done(301, answer(res, ctx, 301, isGet, { Location: location }));
          return release();
        }
        if (result.kind === 'error') {
          if (result.status !== 404) {
            this.log.error(`static: ${result.reason}`, this.fields(ctx, { path, status: result.status, err: result.err }));
          }
          done(result.status, answer(res, ctx, result.status, isGet, result.status === 503 ? RETRY_SOON : undefined));
          return release();
        }

        const r = result.resource;
        if (result.cacheable && this.cache.insert(r)) this.remember(ctx.url, r);
        const plan: Plan = { status: 200, rep: r.identity, start: 0, end: 0 };
        planResponse(headers, r, isGet, plan);
        const fh = result.handles.get(plan.rep);
        const streaming = fh !== undefined && isGet && (plan.status === 200 || plan.status === 206);
        await closeHandles(result.handles, streaming ? fh : undefined);
        if (aborted) {
          if (streaming) await fh.close().catch(() => {});
          return release();
        }
        if (!streaming) {
          let bytes = 0;
          res.cork(() => {
            bytes = writeFromMemory(res, r, plan, this.cacheControl, isGet, ctx.closeConnection);
          });
          done(plan.status, bytes);
          return release();
        }

        const s = new FileStream(res, fh, plan.start, plan.end + 1 - plan.start, {
          writeHead: () => {
            writeHead(res, r, plan, this.cacheControl);
            if (ctx.closeConnection) res.writeHeader('Connection', 'close');
          },
          end: (outcome, bytes, err) => {
            this.streams.delete(s);
            if (outcome === 'error') {
              this.log.error('static: read failed while streaming', this.fields(ctx, { path: plan.rep.path, err }));
            }
            done(outcome === 'aborted' ? 499 : plan.status, bytes);
            release();
          },
        });
        stream = s;
        this.streams.add(s);
        s.start();
      })
      .catch((err: unknown) => {
        // A bug, not an fs condition (load.ts turns those into results).
        this.log.error('static: internal error', this.fields(ctx, { path, err }));
        if (!aborted && !finished && stream === null) done(500, answer(res, ctx, 500, isGet));
        release();
      });
  }

  private fields(ctx: RequestContext, extra: Record<string, unknown>): Record<string, unknown> {
    return { site: ctx.vhost.name, mount: mountLabel(this.cfg.url), vhost: ctx.vhost.serverNames[0], requestId: ctx.requestId, ...extra };
  }

  /** Waits for in-flight misses and streams; past the deadline, cuts the remaining streams. */
  close(deadlineMs = 30_000): Promise<void> {
    this.urlIndex.clear();
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        for (const s of this.streams) s.kill();
      }, deadlineMs);
      this.drained = () => {
        clearTimeout(timer);
        this.drained = null;
        resolve();
      };
    });
  }
}

/** The static mount handler the router calls (see native-front/routing/mount.ts). */
export function createStaticMount(cfg: ResolvedStatic, deps: StaticMountDeps): MountHandler {
  return new StaticMount(cfg, deps.log, deps.cache);
}
