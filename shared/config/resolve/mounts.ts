// Static and app mounts, with what they carry: compression (over the vhost's) and the response cache.
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { CACHE_DEFAULTS, DEFAULTS } from '../defaults.js';
import { DEFAULT_COMPRESSION } from '../compression.js';
import { MODULE_EXTENSIONS } from '../modules.js';
import { describeValue } from '../schema.js';
import type { ConfigPath } from '../source.js';
import type { ResolvedApp, ResolvedCache, ResolvedCompression, ResolvedStatic } from '../types.js';
import { bool, type Ctx, duration, existingFile, isObject, mountUrl, size, statOrUndefined } from './context.js';
import { resolvePool, resolveWebSocket } from './pool.js';

/** `shapeDone`: the vhost's schema check already covered this mount. */
export function resolveStatic(m: unknown, p: ConfigPath, ctx: Ctx, shapeDone = false): ResolvedStatic | undefined {
  if (!shapeDone) ctx.problems.shape(m, 'staticMount', p);
  if (!isObject(m)) return undefined;
  const url = mountUrl(m.url, p, ctx);
  let dir: string | undefined;
  if (typeof m.dir === 'string' && m.dir !== '') {
    const abs = path.resolve(ctx.baseDir, m.dir);
    const st = statOrUndefined(abs);
    if (!st) ctx.problems.add([...p, 'dir'], `directory not found: ${abs}`);
    else if (!st.isDirectory()) ctx.problems.add([...p, 'dir'], `not a directory: ${abs}`);
    else dir = realpathSync(abs);
  }
  let index: string | false = DEFAULTS.index;
  if (m.index === false) index = false;
  else if (m.index === true) ctx.problems.add([...p, 'index'], 'expected a file name or false, got true');
  else if (typeof m.index === 'string') {
    if (m.index === '' || /[/\\]/.test(m.index) || m.index === '.' || m.index === '..') {
      ctx.problems.add([...p, 'index'], `expected a file name (no "/"), got ${describeValue(m.index)}`);
    } else index = m.index;
  }
  if (url === undefined || dir === undefined) return undefined;
  const r: ResolvedStatic = {
    kind: 'static',
    url,
    dir,
    immutable: bool(m.immutable, DEFAULTS.immutable),
    index,
    dotfiles: bool(m.dotfiles, DEFAULTS.dotfiles),
    followSymlinks: bool(m.followSymlinks, DEFAULTS.followSymlinks),
    precompressed: bool(m.precompressed, DEFAULTS.precompressed),
  };
  if (typeof m.maxAge === 'number') r.maxAge = m.maxAge;
  const compression = mountCompression(m.compression, [...p, 'compression'], ctx);
  if (compression) r.compression = compression;
  return r;
}

export function resolveApp(m: unknown, p: ConfigPath, ctx: Ctx, shapeDone = false): ResolvedApp | undefined {
  if (!shapeDone) ctx.problems.shape(m, 'appMount', p);
  if (!isObject(m)) return undefined;
  const url = mountUrl(m.url, p, ctx);
  let module: string | undefined;
  if (typeof m.module === 'string' && m.module !== '') {
    module = existingFile(m.module, [...p, 'module'], ctx);
    if (module && !MODULE_EXTENSIONS.includes(path.extname(module).toLowerCase())) {
      ctx.problems.add(
        [...p, 'module'],
        `${describeValue(m.module, 'path')} is not a JavaScript or TypeScript module (${MODULE_EXTENSIONS.join(' ')})`,
      );
      module = undefined;
    }
  }
  const maxBodySize = size(m.maxBodySize, [...p, 'maxBodySize'], DEFAULTS.maxBodySize, ctx);
  const bufferBody = size(m.bufferBody, [...p, 'bufferBody'], DEFAULTS.bufferBody, ctx);
  const maxUrlLength = size(m.maxUrlLength, [...p, 'maxUrlLength'], DEFAULTS.maxUrlLength, ctx);
  const bodyTimeoutMs = duration(m.bodyTimeout, [...p, 'bodyTimeout'], DEFAULTS.bodyTimeoutMs, ctx, false);
  const pool = resolvePool(m.pool, [...p, 'pool'], ctx, module);
  const websocket = resolveWebSocket(m.websocket, [...p, 'websocket'], ctx);
  const iface = m.interface === 'fetch' || m.interface === 'node' || m.interface === 'auto' ? m.interface : DEFAULTS.interface;
  if (url === undefined || module === undefined || !pool) return undefined;
  const r: ResolvedApp = {
    kind: 'app',
    url,
    module,
    interface: iface,
    maxBodySize,
    stripPrefix: bool(m.stripPrefix, DEFAULTS.stripPrefix),
    bufferBody,
    bodyTimeoutMs,
    maxUrlLength,
    pool,
    websocket,
    watch: bool(m.watch, DEFAULTS.watch),
  };
  if (typeof m.touchFile === 'string' && m.touchFile !== '') r.touchFile = path.resolve(ctx.baseDir, m.touchFile);
  const compression = mountCompression(m.compression, [...p, 'compression'], ctx);
  if (compression) r.compression = compression;
  if (m.cache !== undefined) {
    const cache = resolveCache(m.cache, [...p, 'cache'], ctx);
    if (cache) r.cache = cache;
  }
  return r;
}

/** A mount's compression: its own keys over the vhost's; undefined when neither sets any. */
function mountCompression(v: unknown, p: ConfigPath, ctx: Ctx): ResolvedCompression | undefined {
  if (v === undefined) return ctx.compression;
  return resolveCompression(v, p, ctx, ctx.compression ?? DEFAULT_COMPRESSION);
}

/** `true`/`false` or a mapping (shape checked by the schema); keys not given come from `base`. */
export function resolveCompression(v: unknown, p: ConfigPath, ctx: Ctx, base: Readonly<ResolvedCompression>): ResolvedCompression {
  const r: ResolvedCompression = { enabled: base.enabled, minSize: base.minSize, types: base.types, level: { ...base.level } };
  if (typeof v === 'boolean') {
    r.enabled = v;
    return r;
  }
  if (!isObject(v)) return r; // the schema said why
  if (typeof v.enabled === 'boolean') r.enabled = v.enabled;
  if (v.minSize !== undefined) r.minSize = size(v.minSize, [...p, 'minSize'], r.minSize, ctx);
  if (Array.isArray(v.types)) {
    const types: string[] = [];
    v.types.forEach((t, i) => {
      if (typeof t !== 'string') return;
      const norm = t.trim().toLowerCase();
      if (!/^[a-z0-9][a-z0-9!#$&^_.+-]*\/(\*|[a-z0-9][a-z0-9!#$&^_.+-]*)$/.test(norm)) {
        ctx.problems.add([...p, 'types', i], `expected a MIME type such as "text/html" or "application/*", got ${describeValue(t)}`);
      } else types.push(norm);
    });
    r.types = types;
  }
  if (isObject(v.level)) {
    if (typeof v.level.gzip === 'number') r.level.gzip = v.level.gzip;
    if (typeof v.level.br === 'number') r.level.br = v.level.br;
  }
  return r;
}

function resolveCache(v: unknown, p: ConfigPath, ctx: Ctx): ResolvedCache | undefined {
  if (!isObject(v)) return undefined; // the schema said why
  const maxSize = size(v.maxSize, [...p, 'maxSize'], -1, ctx);
  if (maxSize === 0) ctx.problems.add([...p, 'maxSize'], 'must be above 0 (leave out `cache` for no cache)');
  let maxObjectSize = Math.floor(maxSize / CACHE_DEFAULTS.objectFraction);
  if (v.maxObjectSize !== undefined) {
    maxObjectSize = size(v.maxObjectSize, [...p, 'maxObjectSize'], maxObjectSize, ctx);
    if (maxSize > 0 && maxObjectSize > maxSize) {
      ctx.problems.add([...p, 'maxObjectSize'], `${describeValue(v.maxObjectSize)} is more than maxSize (${describeValue(v.maxSize)})`);
    }
  }
  let header: string | null = CACHE_DEFAULTS.header;
  if (v.header === false) header = null;
  else if (typeof v.header === 'string') {
    if (/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(v.header)) header = v.header;
    else ctx.problems.add([...p, 'header'], `expected a header name (letters, digits, "-") or false, got ${describeValue(v.header)}`);
  }
  const cookies = v.cookies === 'ignore' ? 'ignore' : CACHE_DEFAULTS.cookies;
  const lockTimeoutMs = duration(v.lockTimeout, [...p, 'lockTimeout'], CACHE_DEFAULTS.lockTimeoutMs, ctx, false);
  if (maxSize <= 0) return undefined;
  return { maxSize, maxObjectSize, header, cookies, lockTimeoutMs };
}
