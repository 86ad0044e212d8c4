// Which file the worker threads run, and with which environment.
// - Built package: dist/worker.js beside the bundle (pool code may sit in dist/ or dist/chunks/).
// - From TypeScript sources (tests and development under tsx): worker threads do not inherit the
//   parent's tsx loader, and registering tsx in each worker costs ~400 ms per spawn. So the worker
//   entry is bundled once per process with esbuild, exactly as build.mjs does, into
//   node_modules/.cache/hostd/ (inside the project, so its npm imports resolve). If that fails,
//   dev.mjs registers tsx in the worker instead: slower, same behaviour.
import { createHash } from 'node:crypto';
import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

let fromSources: Promise<string> | null = null;

export function workerFilename(): Promise<string> {
  const here = fileURLToPath(import.meta.url);
  if (!here.endsWith('.ts')) {
    let dir = dirname(here);
    while (basename(dir) === 'chunks') dir = dirname(dir);
    return Promise.resolve(join(dir, 'worker.js'));
  }
  const workerDir = resolve(dirname(here), '../worker');
  fromSources ??= bundleEntry(join(workerDir, 'entry.ts'), resolve(dirname(here), '../..')).catch(() => join(workerDir, 'dev.mjs'));
  return fromSources;
}

async function bundleEntry(entry: string, root: string): Promise<string> {
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    packages: 'external',
    sourcemap: 'inline',
    write: false,
    banner: { js: "import { createRequire as __hostdCreateRequire } from 'node:module'; const require = __hostdCreateRequire(import.meta.url);" },
    logLevel: 'silent',
  });
  const code = result.outputFiles[0].contents;
  const dir = join(root, 'node_modules', '.cache', 'hostd');
  const file = join(dir, `worker-${createHash('sha256').update(code).digest('hex').slice(0, 16)}.mjs`);
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

// The workers' environment is built in env.ts (minimal base + passEnv + the pool's env).
export { workerEnv } from './env.js';
