// A vhost (or one mount) as written -> its resolved form: shape checked against the schema,
// then the meaning checked (durations, sizes, paths that must exist, names, urls), defaults
// filled, paths made absolute. Every problem is collected; nothing throws. The resolvers of
// each part are in resolve/ (vhost, mounts, pool); this file is their public entry and keeps
// where each resolved object was written.
import path from 'node:path';
import { parseListen } from './listen.js';
import { describeValue, pathText } from './schema.js';
import { noSource } from './source.js';
import type { ConfigPath, Locator } from './source.js';
import type { ConfigProblem, ListenAddress, ResolvedMount, ResolvedVhost } from './types.js';
import { type Ctx, isObject, LISTEN_EXPECTED, Problems } from './resolve/context.js';
import { resolveApp, resolveStatic } from './resolve/mounts.js';
import { resolveVhostObject } from './resolve/vhost.js';

export { CACHE_DEFAULTS, DEFAULTS } from './defaults.js';
export { DEFAULT_COMPRESSION } from './compression.js';
export { MODULE_EXTENSIONS } from './modules.js';

/** Lines of a resolved vhost's keys, for problems found later (conflicts across files). */
export interface VhostLines {
  name: number;
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

export interface ResolveVhostOptions {
  /** Names the source in problems and ResolvedVhost.file ("<api>" for programmatic vhosts). */
  file: string;
  /** Relative paths resolve from here (the vhost file's folder). */
  baseDir: string;
  /** --listen: overrides the vhost's listen. */
  listen?: string;
  /** The site name when the vhost sets no `name:`; default: the file's name without extension. */
  name?: string;
}

/** A vhost file's default site name: its file name without the extension ("sites/shop.yaml" -> "shop"). */
export function siteNameOfFile(file: string): string {
  return path.basename(file, path.extname(file));
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
  const ctx = { baseDir: path.resolve(opts.baseDir), problems };
  const vhost = resolveVhostObject(obj, ctx, opts.file, opts.name ?? siteNameOfFile(opts.file), override);
  if (problems.list.length > 0 || !vhost) return { problems: problems.list };
  let nStatic = 0;
  let nApps = 0;
  for (const m of vhost.mounts) {
    const p: ConfigPath = m.kind === 'static' ? ['static', nStatic++] : ['apps', nApps++];
    mountSources.set(m, { file: opts.file, path: pathText(p), line: (key) => opts.lineOf(key ? [...p, key] : p, key ? 'key' : 'value') });
  }
  vhostLines.set(vhost, {
    name: opts.lineOf(['name'], 'key'),
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
