// A vhost (or one mount) as written -> its resolved form: shape checked against the schema,
// then the meaning checked (durations, sizes, paths that must exist, names, urls), defaults
// filled, paths made absolute. Every problem is collected; nothing throws.
import { realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { mountLabel } from '../log.js';
import { MODULE_EXTENSIONS } from './modules.js';
import { DEFAULT_COMPRESSION } from './compression.js';
import { parseDuration, parseSize } from './duration.js';
import { DEFAULT_LISTEN, parseListen, parseListenMapping } from './listen.js';
import { normalizeMountUrl, normalizeServerName } from './names.js';
import { checkShape, describeValue, pathText, prefix } from './schema.js';
import type { SchemaPart } from './schema.js';
import { noSource } from './source.js';
import type { ConfigPath, LineAt, Locator } from './source.js';
import type {
  ConfigProblem,
  ListenAddress,
  ResolvedApp,
  ResolvedCache,
  ResolvedCompression,
  ResolvedMount,
  ResolvedPool,
  ResolvedStatic,
  ResolvedVhost,
  ResolvedWebSocket,
  TlsConfig,
} from './types.js';

export const DEFAULTS = Object.freeze({
  listen: DEFAULT_LISTEN,
  index: 'index.html',
  dotfiles: false,
  followSymlinks: false,
  precompressed: true,
  immutable: false,
  interface: 'auto' as const,
  maxBodySize: 100 * 1024 * 1024,
  watch: false,
  threads: 2,
  concurrency: 64,
  maxRequests: 0,
  maxRequestsJitter: 0,
  requestTimeoutMs: 60_000,
  queueSize: 1024,
  queueTimeoutMs: 30_000,
  idleTimeoutMs: 0,
  startTimeoutMs: 30_000,
  stripPrefix: true,
  bufferBody: 64 * 1024,
  bodyTimeoutMs: 30_000,
  maxUrlLength: 16 * 1024,
  websocket: Object.freeze({
    maxPayload: 1024 * 1024,
    idleTimeoutMs: 120_000,
    maxBackpressure: 1024 * 1024,
    compression: false,
    maxConnections: 10_000,
  }),
});

export { DEFAULT_COMPRESSION } from './compression.js';

export const CACHE_DEFAULTS = Object.freeze({
  header: 'X-Cache',
  cookies: 'bypass' as const,
  lockTimeoutMs: 5000,
  /** maxObjectSize = maxSize / this, when not given. */
  objectFraction: 8,
});

export { MODULE_EXTENSIONS } from './modules.js';

const LISTEN_EXPECTED = 'expected a port number or "host:port"';
const DURATION_HINT = '(use 500ms, 30s, 2m, 1h)';
const SIZE_HINT = '(use 512k, 10mb, 1gb or bytes)';

/** Lines of a resolved vhost's keys, for problems found later (conflicts across files). */
export interface VhostLines {
  serverName: number;
  default: number;
  listen: number;
  tls: number;
}
const vhostLines = new WeakMap<ResolvedVhost, VhostLines>();

/** Where a vhost's key was written (0 when it came from an object, or was copied). */
export function lineOfVhostKey(v: ResolvedVhost, key: keyof VhostLines): number {
  return vhostLines.get(v)?.[key] ?? 0;
}

/** Where a resolved mount was written, for problems found after resolution (e.g. loading the app). */
export interface MountSource {
  file: string;
  /** "apps[0]", "static[1]"; "" for a mount given alone (host.mount()). */
  path: string;
  /** Line of `key` in the mount (of the mount itself without a key); 0 without a source. */
  line(key?: string): number;
}
const mountSources = new WeakMap<ResolvedMount, MountSource>();

/** Where `m` came from, while it is the object resolveVhost / loadSites / resolveMount returned. */
export function mountSource(m: ResolvedMount): MountSource | undefined {
  return mountSources.get(m);
}

/** Collects problems for one file (or object), giving each its line. */
class Problems {
  readonly list: ConfigProblem[] = [];
  constructor(
    readonly file: string,
    readonly lineOf: Locator,
  ) {}
  /** `message` gets the key path as its prefix. */
  add(p: ConfigPath, message: string, at: LineAt = 'value'): void {
    this.list.push({ file: this.file, line: this.lineOf(p, at), message: prefix(p) + message });
  }
  shape(value: unknown, part: SchemaPart, base: ConfigPath): void {
    for (const sp of checkShape(value, part, base)) {
      this.list.push({ file: this.file, line: this.lineOf(sp.path, sp.at), message: sp.message });
    }
  }
}

interface Ctx {
  baseDir: string;
  problems: Problems;
  /** The vhost's `compression` (already checked), the base its mounts' own settings override. */
  compression?: ResolvedCompression;
}

export interface ResolveVhostOptions {
  /** Names the source in problems and ResolvedVhost.file ("<api>" for programmatic vhosts). */
  file: string;
  /** Relative paths resolve from here (the vhost file's folder). */
  baseDir: string;
  /** --listen: overrides the vhost's listen. */
  listen?: string;
}

/** Validate and resolve a vhost given as a plain object (the programmatic API). Problems have line 0. */
export function resolveVhost(obj: unknown, opts: ResolveVhostOptions): { vhost?: ResolvedVhost; problems: ConfigProblem[] } {
  return resolveVhostFrom(obj, { ...opts, lineOf: noSource });
}

/** resolveVhost with a source to take lines from (loadSites). */
export function resolveVhostFrom(
  obj: unknown,
  opts: ResolveVhostOptions & { lineOf: Locator },
): { vhost?: ResolvedVhost; problems: ConfigProblem[] } {
  const problems = new Problems(opts.file, opts.lineOf);
  let override: ListenAddress | undefined;
  if (opts.listen !== undefined) {
    override = parseListen(opts.listen);
    if (!override) {
      problems.list.push({ file: 'command line', line: 0, message: `--listen: ${LISTEN_EXPECTED}, got ${describeValue(opts.listen)}` });
    }
  }
  const vhost = resolveVhostObject(obj, { baseDir: path.resolve(opts.baseDir), problems }, opts.file, override);
  if (problems.list.length > 0 || !vhost) return { problems: problems.list };
  let nStatic = 0;
  let nApps = 0;
  for (const m of vhost.mounts) {
    const p: ConfigPath = m.kind === 'static' ? ['static', nStatic++] : ['apps', nApps++];
    mountSources.set(m, { file: opts.file, path: pathText(p), line: (key) => opts.lineOf(key ? [...p, key] : p, key ? 'key' : 'value') });
  }
  vhostLines.set(vhost, {
    serverName: opts.lineOf(['serverName'], 'key'),
    default: opts.lineOf(['default'], 'key'),
    listen: opts.lineOf(['listen'], 'key'),
    tls: opts.lineOf(['tls'], 'key'),
  });
  return { vhost, problems: [] };
}

export interface ResolveMountOptions {
  file: string;
  baseDir: string;
}

/**
 * Validate and resolve one mount object for host.mount(): an app mount has `module`, a static
 * mount has `dir`.
 */
export function resolveMount(obj: unknown, opts: ResolveMountOptions): { mount?: ResolvedMount; problems: ConfigProblem[] } {
  const problems = new Problems(opts.file, noSource);
  const ctx: Ctx = { baseDir: path.resolve(opts.baseDir), problems };
  let mount: ResolvedMount | undefined;
  if (isObject(obj) && 'module' in obj) mount = resolveApp(obj, [], ctx);
  else if (isObject(obj) && 'dir' in obj) mount = resolveStatic(obj, [], ctx);
  else problems.add([], `expected a static mount (url, dir) or an app mount (url, module), got ${describeValue(obj)}`);
  if (problems.list.length > 0 || !mount) return { problems: problems.list };
  mountSources.set(mount, { file: opts.file, path: '', line: () => 0 });
  return { mount, problems: [] };
}

function resolveVhostObject(obj: unknown, ctx: Ctx, file: string, override?: ListenAddress): ResolvedVhost | undefined {
  const P = ctx.problems;
  P.shape(obj, 'vhost', []);
  if (!isObject(obj)) return undefined;

  // serverName / default
  const isDefault = obj.default === true;
  const names: string[] = [];
  const sn = obj.serverName;
  const given: [string, ConfigPath][] =
    typeof sn === 'string'
      ? [[sn, ['serverName']]]
      : Array.isArray(sn)
        ? sn.flatMap((n, i): [string, ConfigPath][] => (typeof n === 'string' ? [[n, ['serverName', i]]] : []))
        : [];
  for (const [raw, p] of given) {
    const r = normalizeServerName(raw);
    if ('error' in r) P.add(p, r.error);
    else if (!names.includes(r.name)) names.push(r.name);
  }
  if (sn === undefined && !isDefault) {
    P.add([], 'missing required key "serverName" (or set default: true for the catch-all)');
  } else if (Array.isArray(sn) && sn.length === 0 && !isDefault) {
    P.add(['serverName'], 'must name at least one host (or set default: true for the catch-all)');
  }
  // One invariant for the router: "*" in serverNames <=> catch-all.
  if (isDefault && !names.includes('*')) names.push('*');

  // listen
  let listen: ListenAddress = { ...DEFAULT_LISTEN };
  if (typeof obj.listen === 'string') {
    const l = parseListen(obj.listen);
    if (l) listen = l;
    else P.add(['listen'], `${LISTEN_EXPECTED}, got ${describeValue(obj.listen)}`);
  } else if (typeof obj.listen === 'number') {
    listen = parseListen(obj.listen) ?? listen; // range errors come from the schema
  } else if (isObject(obj.listen)) {
    listen = listenMapping(obj.listen, ctx) ?? listen;
  }
  // --listen moves the address; whether connections carry a PROXY header stays the file's say
  // (the proxy in front still sends it).
  if (override) listen = listen.proxyProtocol ? { ...override, proxyProtocol: true } : { ...override };

  // tls
  let tls: TlsConfig | undefined;
  if (isObject(obj.tls)) {
    const cert = typeof obj.tls.cert === 'string' ? existingFile(obj.tls.cert, ['tls', 'cert'], ctx) : undefined;
    const key = typeof obj.tls.key === 'string' ? existingFile(obj.tls.key, ['tls', 'key'], ctx) : undefined;
    if (cert && key) {
      tls = { cert, key };
      if (typeof obj.tls.passphrase === 'string') tls.passphrase = obj.tls.passphrase;
    }
  }

  // redirectHttps
  let redirectHttps: number | undefined;
  if (obj.redirectHttps === true) redirectHttps = 443;
  else if (typeof obj.redirectHttps === 'number') redirectHttps = obj.redirectHttps;

  // compression: the vhost's setting is the default of its mounts
  if (obj.compression !== undefined) ctx.compression = resolveCompression(obj.compression, ['compression'], ctx, DEFAULT_COMPRESSION);

  // mounts
  const mounts: ResolvedMount[] = [];
  const urls = new Map<string, ConfigPath>();
  const addMount = (m: ResolvedMount | undefined, p: ConfigPath) => {
    if (!m) return;
    const first = urls.get(m.url);
    if (first) P.add([...p, 'url'], `"${mountLabel(m.url)}" is already mounted by ${prefix(first).slice(0, -2)} of this vhost`);
    else urls.set(m.url, p);
    mounts.push(m);
  };
  if (Array.isArray(obj.static)) obj.static.forEach((m, i) => addMount(resolveStatic(m, ['static', i], ctx, true), ['static', i]));
  if (Array.isArray(obj.apps)) obj.apps.forEach((m, i) => addMount(resolveApp(m, ['apps', i], ctx, true), ['apps', i]));

  if (listen.proxyProtocol && isObject(obj.tls)) {
    // uWS reads a PROXY header only inside the TLS stream, and proxies send it before the
    // handshake: see docs/deploy.md. Terminate TLS at the proxy instead.
    P.add(
      ['listen', 'proxyProtocol'],
      'works on plain HTTP listeners only; with tls, terminate TLS at the proxy and send plain HTTP with the PROXY header',
    );
  }

  const vhost: ResolvedVhost = { file, serverNames: names, isDefault: names.includes('*'), listen, mounts };
  if (tls) vhost.tls = tls;
  if (redirectHttps !== undefined) vhost.redirectHttps = redirectHttps;
  return vhost;
}

/** `listen: { port, host, proxyProtocol }` (shape already checked by the schema). */
function listenMapping(m: Record<string, unknown>, ctx: Ctx): ListenAddress | undefined {
  // A bad port is the schema's to report.
  if (typeof m.port !== 'number' || !Number.isInteger(m.port) || m.port < 0 || m.port > 65535) return undefined;
  const address = parseListenMapping({
    port: m.port,
    host: typeof m.host === 'string' ? m.host : undefined,
    proxyProtocol: m.proxyProtocol === true,
  });
  if (!address) ctx.problems.add(['listen', 'host'], `expected an IP address or host name, got ${describeValue(m.host)}`);
  return address;
}

/** `shapeDone`: the vhost's schema check already covered this mount. */
function resolveStatic(m: unknown, p: ConfigPath, ctx: Ctx, shapeDone = false): ResolvedStatic | undefined {
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

function resolveApp(m: unknown, p: ConfigPath, ctx: Ctx, shapeDone = false): ResolvedApp | undefined {
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
  const pool = resolvePool(m.pool, [...p, 'pool'], ctx);
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
function resolveCompression(v: unknown, p: ConfigPath, ctx: Ctx, base: Readonly<ResolvedCompression>): ResolvedCompression {
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

/** A size (bytes or "10mb"); problems reported, `def` returned when absent or wrong. */
function size(v: unknown, p: ConfigPath, def: number, ctx: Ctx): number {
  if (typeof v !== 'string' && typeof v !== 'number') return def; // absent, or the schema said why
  const n = parseSize(v);
  if (n === undefined) {
    ctx.problems.add(p, `${describeValue(v)} is not a size ${SIZE_HINT}`);
    return def;
  }
  return n;
}

function resolvePool(v: unknown, p: ConfigPath, ctx: Ctx): ResolvedPool | undefined {
  if (v !== undefined && !isObject(v)) return undefined; // the schema said why
  const o: Record<string, unknown> = v ?? {};
  const int = (k: string, def: number) => (typeof o[k] === 'number' && Number.isInteger(o[k]) ? (o[k] as number) : def);
  const threads = int('threads', DEFAULTS.threads);
  const minThreads = int('minThreads', threads);
  if (minThreads > threads && typeof o.threads === 'number') {
    ctx.problems.add([...p, 'minThreads'], `${minThreads} is more than threads (${threads})`);
  } else if (minThreads > threads) {
    ctx.problems.add([...p, 'minThreads'], `${minThreads} is more than threads (default ${threads}); raise threads too`);
  }
  const requestTimeoutMs = duration(o.requestTimeout, [...p, 'requestTimeout'], DEFAULTS.requestTimeoutMs, ctx, false);
  const queueTimeoutMs = duration(o.queueTimeout, [...p, 'queueTimeout'], DEFAULTS.queueTimeoutMs, ctx, false);
  const idleTimeoutMs = duration(o.idleTimeout, [...p, 'idleTimeout'], DEFAULTS.idleTimeoutMs, ctx, true);
  const startTimeoutMs = duration(o.startTimeout, [...p, 'startTimeout'], DEFAULTS.startTimeoutMs, ctx, false);
  const env: Record<string, string> = {};
  if (isObject(o.env)) {
    for (const [k, val] of Object.entries(o.env)) {
      if (typeof val === 'string' || typeof val === 'number' || typeof val === 'boolean') env[k] = String(val);
    }
  }
  const passEnv = Array.isArray(o.passEnv) ? [...new Set(o.passEnv.filter((n): n is string => typeof n === 'string'))] : [];
  const pool: ResolvedPool = {
    threads,
    minThreads,
    concurrency: int('concurrency', DEFAULTS.concurrency),
    maxRequests: int('maxRequests', DEFAULTS.maxRequests),
    maxRequestsJitter: int('maxRequestsJitter', DEFAULTS.maxRequestsJitter),
    requestTimeoutMs,
    queueSize: int('queueSize', DEFAULTS.queueSize),
    queueTimeoutMs,
    idleTimeoutMs,
    startTimeoutMs,
    env,
  };
  if (passEnv.length) pool.passEnv = passEnv;
  if (isObject(o.sticky)) {
    const { cookie, query } = o.sticky;
    const sticky: { cookie?: string; query?: string } = {};
    if (typeof cookie === 'string') sticky.cookie = cookie;
    if (typeof query === 'string') sticky.query = query;
    if (sticky.cookie !== undefined || sticky.query !== undefined) pool.sticky = sticky;
  }
  if (typeof o.memoryLimitMb === 'number' && Number.isInteger(o.memoryLimitMb)) pool.memoryLimitMb = o.memoryLimitMb;
  return pool;
}

/** `websocket:` on an app mount; every key has a default for public sites (DEFAULTS.websocket). */
function resolveWebSocket(v: unknown, p: ConfigPath, ctx: Ctx): ResolvedWebSocket {
  const d = DEFAULTS.websocket;
  if (!isObject(v)) return { ...d }; // absent, or the schema said why
  const maxPayload = size(v.maxPayload, [...p, 'maxPayload'], d.maxPayload, ctx);
  if (maxPayload === 0) ctx.problems.add([...p, 'maxPayload'], 'must be above 0');
  return {
    maxPayload: maxPayload || d.maxPayload,
    idleTimeoutMs: duration(v.idleTimeout, [...p, 'idleTimeout'], d.idleTimeoutMs, ctx, true),
    maxBackpressure: size(v.maxBackpressure, [...p, 'maxBackpressure'], d.maxBackpressure, ctx),
    compression: bool(v.compression, d.compression),
    maxConnections: typeof v.maxConnections === 'number' && Number.isInteger(v.maxConnections) ? v.maxConnections : d.maxConnections,
  };
}

function duration(v: unknown, p: ConfigPath, def: number, ctx: Ctx, zeroOk: boolean): number {
  if (typeof v !== 'string' && typeof v !== 'number') return def; // absent, or the schema said why
  const ms = parseDuration(v);
  if (ms === undefined) {
    if (typeof v === 'string') ctx.problems.add(p, `${describeValue(v)} is not a duration ${DURATION_HINT}`);
    return def;
  }
  if (ms === 0 && !zeroOk) {
    ctx.problems.add(p, 'must be above 0');
    return def;
  }
  return ms;
}

function mountUrl(v: unknown, p: ConfigPath, ctx: Ctx): string | undefined {
  if (typeof v !== 'string') return undefined;
  const r = normalizeMountUrl(v);
  if ('error' in r) {
    ctx.problems.add([...p, 'url'], r.error);
    return undefined;
  }
  return r.url;
}

/** Resolve a path that must name an existing file; report and return undefined if not. */
function existingFile(rel: string, p: ConfigPath, ctx: Ctx): string | undefined {
  if (rel === '') return undefined; // the schema said why
  const abs = path.resolve(ctx.baseDir, rel);
  const st = statOrUndefined(abs);
  if (!st) ctx.problems.add(p, `file not found: ${abs}`);
  else if (!st.isFile()) ctx.problems.add(p, `not a file: ${abs}`);
  else return abs;
  return undefined;
}

function statOrUndefined(p: string) {
  try {
    return statSync(p);
  } catch {
    return undefined;
  }
}

function bool(v: unknown, def: boolean): boolean {
  return typeof v === 'boolean' ? v : def;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
