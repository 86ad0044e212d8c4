// Which file the worker threads run. Built: dist/worker.js beside the bundle (pool code may sit
// in dist/ or dist/chunks/). From sources (tests under tsx): a bootstrap that registers tsx in
// the worker first, since worker threads do not inherit the parent's loader.
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export function workerFilename(): string {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.ts')) return resolve(dirname(here), '../worker/dev.mjs');
  let dir = dirname(here);
  while (basename(dir) === 'chunks') dir = dirname(dir);
  return join(dir, 'worker.js');
}
