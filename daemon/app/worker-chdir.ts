// process.chdir() throws in worker threads (ERR_WORKER_UNSUPPORTED_OPERATION): the working
// directory belongs to the whole process, hostd's front and every other pool included. Apps
// written to run as their own process call it anyway; Next.js's standalone server.js starts
// with `process.chdir(__dirname)`, so it would fail to load in a pool.
//
// In a worker, hostd's chdir moves a working directory of the worker's own instead: the
// process's real one stays where it is, and process.cwd() — which path.resolve() and most code
// asking "where am I" read — answers the app's directory from then on. Every worker starts in its
// app's directory (pool.cwd, else the app root: shared/config/resolve/app-root.ts), as `node
// server.js` run from there would. What it cannot move is the kernel's idea of the directory, so
// a relative path handed straight to fs (fs.readFile('x')) still resolves from hostd's directory:
// the pool logs that once when it starts (daemon/pool/pool.ts), and this once more when the app
// moves its directory itself, naming both. Process pools (isolation: process) make it exact.
import { type Stats, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { isMainThread } from 'node:worker_threads';

let installed = false;

function chdirError(code: string, from: string, to: string): NodeJS.ErrnoException {
  const text = code === 'ENOENT' ? 'no such file or directory' : 'not a directory';
  const err = new Error(`${code}: ${text}, chdir ${from} -> '${to}'`) as NodeJS.ErrnoException;
  err.code = code;
  err.syscall = 'chdir';
  err.path = from;
  (err as { dest?: string }).dest = to;
  return err;
}

/**
 * In a worker thread, replaces process.chdir/process.cwd with a per-worker working directory
 * starting at `start` (once; the main thread keeps Node's). `notice` gets one line the first time
 * the app moves it elsewhere.
 */
export function workerChdir(notice: (text: string) => void, start?: string): void {
  if (installed || isMainThread) return;
  installed = true;
  const real = process.cwd();
  const home = start ? resolve(start) : real;
  let cwd = home;
  let told = false;
  process.cwd = () => cwd;
  process.chdir = (directory: string) => {
    const target = resolve(cwd, String(directory));
    let st: Stats;
    try {
      st = statSync(target);
    } catch {
      throw chdirError('ENOENT', cwd, String(directory));
    }
    if (!st.isDirectory()) throw chdirError('ENOTDIR', cwd, String(directory));
    cwd = target;
    if (!told && cwd !== home && cwd !== real) {
      told = true;
      notice(
        `the app called process.chdir(${target}): a worker thread cannot move the process's directory, so ` +
          `process.cwd() and path.resolve() in this app's workers answer ${target}, while relative paths ` +
          `given to fs directly still resolve from ${real}`,
      );
    }
  };
}
