// Which file a kind of thread (daemon worker, front, PROXY-protocol gateway) runs, or a daemon
// process (pool.isolation: process) starts with.
// - Built package: dist/<kind>.js beside the bundle (code may sit in dist/ or dist/chunks/).
// - From TypeScript sources (tests and development under tsx): worker threads do not inherit the
//   parent's tsx loader, and registering tsx in each thread costs ~400 ms per spawn. So the entry
//   is bundled once per process with esbuild, exactly as build.mjs does, into
//   node_modules/.cache/hostd/ (inside the project, so its npm imports resolve). If that fails,
//   daemon/worker/dev.mjs registers tsx in a daemon worker instead: slower, same behaviour.
import { createHash } from 'node:crypto';
import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export type ThreadKind = 'worker' | 'front' | 'proxy-gateway' | 'daemon-process';

const fromSources = new Map<ThreadKind, Promise<string>>();

export function threadFile(kind: ThreadKind): Promise<string> {
  const here = fileURLToPath(import.meta.url);
  if (!here.endsWith('.ts')) {
    let dir = dirname(here);
    while (basename(dir) === 'chunks') dir = dirname(dir);
    return Promise.resolve(join(dir, `${kind}.js`));
  }
  const root = resolve(dirname(here), '..');
  let file = fromSources.get(kind);
  if (!file) {
    file = bundleEntry(kind, root);
    if (kind === 'worker') file = file.catch(() => join(root, 'daemon/worker/dev.mjs'));
    fromSources.set(kind, file);
  }
  return file;
}

async function bundleEntry(kind: ThreadKind, root: string): Promise<string> {
  const [{ build }, { bundleOptions, threadEntries }] = await Promise.all([import('esbuild'), import('../build-options.mjs')]);
  const result = await build({
    ...bundleOptions,
    entryPoints: [join(root, threadEntries[kind])],
    sourcemap: 'inline',
    write: false,
    logLevel: 'silent',
  });
  const code = result.outputFiles![0].contents;
  const dir = join(root, 'node_modules', '.cache', 'hostd');
  const file = join(dir, `${kind}-${createHash('sha256').update(code).digest('hex').slice(0, 16)}.mjs`);
  try {
    await stat(file);
  } catch {
    await mkdir(dir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, code);
    await rename(tmp, file); // atomic: concurrent test processes never see a half-written file
  }
  return file;
}
