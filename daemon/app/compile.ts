// Compiles a TypeScript/JSX app module with esbuild into one ESM file that Node can import.
//
// The user's own files are bundled (so a .ts app can import its .ts helpers); packages are not.
// Every bare import is resolved here, from the importing file's folder (so from the app's own
// node_modules), and written into the output as an absolute path: the compiled file can then
// live in any cache folder and still load exactly the packages Node would have found next to
// the source. import.meta.url/dirname/filename are rewritten to the original file's values, and
// `require` is created for the source file, so code that reads files next to itself keeps
// working. An inline source map lets stack traces name the user's .ts lines.
//
// esbuild is imported when an app needs compiling, not with this module: its JS API costs every
// isolate that loads it about 1 MB (bench/worker-cost.ts), and every worker and the serving
// process import this module whether or not any app is TypeScript.
import type { BuildResult, Message, Plugin } from 'esbuild';
import { createHash } from 'node:crypto';
import { lstat, mkdir, stat, writeFile, rename } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { HostdError } from '../../shared/errors.js';

import { COMPILED_EXTENSIONS } from '../../shared/config/modules.js';

export function needsCompile(modulePath: string): boolean {
  return COMPILED_EXTENSIONS.has(extname(modulePath).toLowerCase());
}

/**
 * One folder per user: a hostd of another user (or one that dropped to --user,
 * native-front/control/privileges.ts, which creates it before the drop) cannot write root's.
 */
export function defaultCacheDir(uid = process.getuid?.() ?? 0): string {
  return join(tmpdir(), uid === 0 ? 'hostd-apps' : `hostd-apps-${uid}`);
}

/**
 * The compile cache is imported from, so it must be this process's own: in a shared /tmp anyone
 * may create `hostd-apps` first and leave a module there under the name hostd would compute. It is
 * taken only if it is a real directory (not a link) owned by this uid and writable by no one else;
 * other users may read it (a process pool's user imports the compiled entry).
 */
async function ownCacheDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const st = await lstat(dir);
  const uid = process.getuid?.();
  if (!st.isDirectory() || (uid !== undefined && st.uid !== uid) || (st.mode & 0o022) !== 0)
    throw new HostdError(
      'HOSTD_APP_LOAD',
      `the compile cache ${dir} is not hostd's own (owner uid ${st.uid}, mode ${(st.mode & 0o777).toString(8)}): ` +
        `hostd imports what it finds there, so it refuses it; remove it, or set another cache folder`,
    );
}

const BARE = /^[^./]|^\.[^./]|^\.\.[^/]/;
const BUILTINS = new Set(builtinModules);

function isBuiltin(spec: string): boolean {
  return spec.startsWith('node:') || BUILTINS.has(spec) || BUILTINS.has(spec.split('/')[0]!);
}

/** Resolves bare imports from the importer's folder and leaves them external, as absolute paths. */
function externalPackages(): Plugin {
  return {
    name: 'hostd-external-packages',
    setup(b) {
      b.onResolve({ filter: BARE }, async (args) => {
        if (args.pluginData?.hostdInner) return undefined; // our own nested resolve
        if (isBuiltin(args.path)) return { path: args.path, external: true };
        const r = await b.resolve(args.path, {
          kind: args.kind,
          resolveDir: args.resolveDir,
          importer: args.importer,
          pluginData: { hostdInner: true },
        });
        if (r.errors.length > 0) {
          // A static import that cannot be found is an error now (at pool start), naming the
          // file and line; a dynamic import()/require() may be optional, so Node decides later.
          if (args.kind === 'import-statement') return { errors: r.errors };
          return { path: args.path, external: true };
        }
        return { path: r.path, external: true };
      });
    },
  };
}

/** Gives each user file its own import.meta.* values and a require() rooted at it. */
function originalLocations(): Plugin {
  return {
    name: 'hostd-original-locations',
    setup(b) {
      b.onLoad({ filter: /\.[cm]?[jt]sx?$/ }, async (args) => {
        if (args.path.includes('/node_modules/')) return undefined;
        const { readFile } = await import('node:fs/promises');
        let text = await readFile(args.path, 'utf8');
        if (text.includes('import.meta.')) {
          const url = JSON.stringify(pathToFileURL(args.path).href);
          text = text
            .replace(/\bimport\.meta\.url\b/g, url)
            .replace(/\bimport\.meta\.filename\b/g, JSON.stringify(args.path))
            .replace(/\bimport\.meta\.dirname\b/g, JSON.stringify(dirname(args.path)));
        }
        const ext = extname(args.path).slice(1);
        const loader = ext === 'mts' || ext === 'cts' ? 'ts' : ext === 'mjs' || ext === 'cjs' ? 'js' : ext;
        return { contents: text, loader: loader as 'ts' | 'tsx' | 'js' | 'jsx', resolveDir: dirname(args.path) };
      });
    },
  };
}

function formatMessage(m: Message): string {
  const loc = m.location;
  return loc ? `${m.text} (${basename(loc.file)}:${loc.line}:${loc.column + 1})` : m.text;
}

/**
 * Compile the app at `modulePath` (if it needs compiling) and return the path to import.
 * Plain .js/.mjs/.cjs modules are returned as they are. The output file is named by a hash of
 * its content, so recompiling unchanged sources writes nothing and a changed source never
 * collides with a module already in some thread's import cache.
 *
 * The pool should call this once, in the main thread, when it starts (errors surface at
 * startup, once, and workers start without waiting on esbuild), then hand the returned entry to
 * each worker's loadApp(modulePath, { ..., entry }). loadApp also compiles by itself when given
 * a .ts path without an entry.
 */
export async function compileApp(modulePath: string, cacheDir: string = defaultCacheDir()): Promise<string> {
  const abs = resolve(modulePath);
  if (!needsCompile(abs)) return abs;
  let result: BuildResult<{ write: false; metafile: true }>;
  try {
    const { build } = await import('esbuild');
    result = await build({
      entryPoints: [abs],
      absWorkingDir: dirname(abs),
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      sourcemap: 'inline',
      sourcesContent: false,
      write: false,
      outfile: join(cacheDir, 'app.mjs'),
      logLevel: 'silent',
      plugins: [externalPackages(), originalLocations()],
      // `require` in ESM output: a free `require` becomes one rooted at the source file (a
      // name of our own, so a user's top-level `const require = createRequire(...)` still works).
      define: { require: '__hostdRequire' },
      banner: {
        js:
          `import { createRequire as __hostdCreateRequire } from 'node:module';` +
          `const __hostdRequire = __hostdCreateRequire(${JSON.stringify(abs)});`,
      },
    });
  } catch (err) {
    const errors = (err as { errors?: Message[] }).errors;
    const detail = errors?.length ? errors.map(formatMessage).join('; ') : String(err);
    throw new HostdError('HOSTD_APP_LOAD', `app ${modulePath} failed to load: ${detail}`, { cause: err });
  }
  const files = result.outputFiles ?? [];
  const out = files.find((f) => f.path.endsWith('.mjs')) ?? files[0]!;
  const hash = createHash('sha256').update(out.contents).digest('hex').slice(0, 16);
  const name = basename(abs, extname(abs)).replace(/[^\w.-]/g, '_');
  const entry = join(cacheDir, `${name}-${hash}.mjs`);
  await ownCacheDir(cacheDir);
  const exists = await stat(entry).then(
    () => true,
    () => false,
  );
  if (!exists) {
    // Write then rename: a worker compiling the same app never imports a half-written file.
    const tmp = `${entry}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    await writeFile(tmp, out.contents);
    await rename(tmp, entry);
  }
  return entry;
}
