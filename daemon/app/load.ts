// Loads the user's module (inside a worker thread) and normalises it to a FetchHandler.
//
// Pool usage: call compileApp(modulePath, cacheDir) once in the main thread at pool start, then
// in each worker loadApp(modulePath, { interface, entry }) with the returned entry. Without
// `entry`, loadApp compiles .ts/.tsx/.jsx itself (each worker then runs esbuild once).
import { basename } from 'node:path';
import { pathToFileURL } from 'node:url';
import { HostdError } from '../../shared/errors.js';
import { compileApp, defaultCacheDir, needsCompile } from './compile.js';
import { detect, DetectError } from './detect.js';
import { capturedServer, captureListen, listenedServer } from './listen-capture.js';
import { watchEngineIo } from './engine-io.js';
import { withNodeUpgrades } from './ws-bridge.js';
import { workerChdir } from './worker-chdir.js';
import type { LoadAppOptions, LoadedApp } from './types.js';

export { compileApp, needsCompile } from './compile.js';

export interface LoadAppExtraOptions {
  /** The file to import, as returned by compileApp(); modulePath is then used for messages. */
  entry?: string;
}

let sourceMapsOn = false;

/** How long a module that exports nothing has to call listen() before it counts as broken. */
const LISTEN_WAIT_MS = 10_000;

/** No export at all (ESM), or CommonJS that never assigned module.exports: a listen()-style app, if any. */
function exportsNothing(ns: Record<string, unknown>): boolean {
  const keys = Object.keys(ns).filter((k) => k !== 'default' && k !== 'module.exports');
  const d = ns.default;
  return (
    keys.length === 0 &&
    (d === undefined ||
      (typeof d === 'object' && d !== null && Object.getPrototypeOf(d) === Object.prototype && Object.keys(d).length === 0))
  );
}

/** Where an import-time error happened, source-mapped when possible: "server.ts:3:5". */
async function whereFrom(err: unknown, modulePath: string, entry: string): Promise<string> {
  const stack = err instanceof Error ? (err.stack ?? '') : '';
  // CommonJS SyntaxErrors start with "/…/x.cjs:3" on the first line.
  const first = /^(?:file:\/\/)?(\/[^\n]*?):(\d+)\n/.exec(stack);
  if (first) return `${basename(first[1]!)}:${first[2]}`;
  // ESM SyntaxErrors carry no location in Node 20's stack: ask esbuild's parser where it is.
  if (err instanceof SyntaxError && !needsCompile(entry)) {
    try {
      const { transform } = await import('esbuild');
      const { readFile } = await import('node:fs/promises');
      await transform(await readFile(entry, 'utf8'), { loader: 'js', format: entry.endsWith('.cjs') ? 'cjs' : 'esm' });
    } catch (e) {
      const loc = (e as { errors?: { location?: { line: number; column: number } | null }[] }).errors?.[0]?.location;
      if (loc) return `${basename(modulePath)}:${loc.line}:${loc.column + 1}`;
    }
  }
  for (const m of stack.matchAll(/\((?:file:\/\/)?([^()\n]+?):(\d+):(\d+)\)|at (?:file:\/\/)?([^\s()]+?):(\d+):(\d+)$/gm)) {
    const file = m[1] ?? m[4]!;
    if (file.startsWith('node:')) continue;
    return `${basename(file)}:${m[2] ?? m[5]}:${m[3] ?? m[6]}`;
  }
  return basename(modulePath);
}

function loadError(modulePath: string, detail: string, cause?: unknown): HostdError {
  return new HostdError('HOSTD_APP_LOAD', `app ${modulePath} failed to load: ${detail}`, { cause });
}

/** The app in the module's exports or, failing that, the HTTP server it called listen() on. */
async function pick(ns: Record<string, unknown>, iface: LoadAppOptions['interface']): Promise<LoadedApp> {
  try {
    return detect(ns, iface);
  } catch (err) {
    if (!(err instanceof DetectError)) throw err;
    const waitMs = exportsNothing(ns) ? LISTEN_WAIT_MS : 0;
    const server = await listenedServer(waitMs).catch((e: Error) => {
      throw new DetectError(e.message);
    });
    if (server === null) throw waitMs > 0 ? new DetectError(`${err.message}; nor did it call listen() within ${waitMs / 1000} s`) : err;
    return detect({ default: server }, iface);
  }
}

export async function loadApp(modulePath: string, opts: LoadAppOptions & LoadAppExtraOptions): Promise<LoadedApp> {
  // Stack traces of compiled apps point at the user's .ts lines.
  if (!sourceMapsOn && typeof process.setSourceMapsEnabled === 'function') {
    process.setSourceMapsEnabled(true);
    sourceMapsOn = true;
  }
  let entry = opts.entry;
  if (!entry) {
    entry = needsCompile(modulePath) ? await compileApp(modulePath, opts.cacheDir ?? defaultCacheDir()) : modulePath;
  }
  // Before the app's code runs: what a module written to be its own process does at the top.
  const notice = opts.notice ?? (() => {});
  captureListen(notice, opts.warn ?? notice);
  watchEngineIo(); // socket.io sessions stay on the worker that made them (engine-io.ts)
  workerChdir(notice, opts.cwd);
  let ns: Record<string, unknown>;
  try {
    ns = (await import(pathToFileURL(entry).href)) as Record<string, unknown>;
  } catch (err) {
    const e = err as { name?: string; message?: string; code?: string };
    const what = err instanceof Error ? `${e.name}: ${e.message}` : String(err);
    throw loadError(modulePath, `${what} (${await whereFrom(err, modulePath, entry)})`, err);
  }
  try {
    const app = await pick(ns, opts.interface);
    // WebSockets of node apps: upgrades go to the server's 'upgrade' listeners (ws-bridge.ts).
    if (app.interface === 'node') app.fetch = withNodeUpgrades(app.fetch, () => app.server ?? capturedServer());
    return app;
  } catch (err) {
    throw loadError(modulePath, err instanceof DetectError ? err.message : String(err), err);
  }
}
