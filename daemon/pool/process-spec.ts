// How a pool's daemon process is started: which file, as whom, where, with what. Read at every
// spawn, so a roll after a reload starts processes with the new settings.
import { join } from 'node:path';
import type { ResolvedApp } from '../../shared/config/types.js';
import { threadFile } from '../../shared/thread-file.js';
import { runtimeDir, startUid } from '../../native-front/control/runtime-dir.js';
import { compressionOf } from './serve-task.js';
import { workerEnv, workerFilename } from './worker-file.js';
import type { SpawnSpec } from './daemon-process.js';

/** Files a daemon process creates are not world-readable: group-readable at most. */
export const DAEMON_UMASK = 0o027;

/**
 * The daemon processes' socket folders: beside hostd's runtime folder (which is 0700). After a
 * --user drop, a folder of that user's inside it (native-front/control/privileges.ts creates it
 * before the drop): the base stays root's.
 */
export function socketBase(uid = process.getuid?.() ?? 0): string {
  const base = `${runtimeDir()}-pools`;
  return uid === startUid ? base : join(base, `u${uid}`);
}

export interface SpecOptions {
  fronts: number;
  cacheDir?: string;
  /** The module the pool compiled (TypeScript/JSX), if any. */
  entry?: string;
  /** The pool's name for its workers (ServeTask.group). */
  group?: string;
}

/** Resolves the files once (they are bundled on first use when running from sources). */
export async function processSpec(cfg: ResolvedApp, o: SpecOptions): Promise<SpawnSpec> {
  const [file, workerFile] = await Promise.all([threadFile('daemon-process'), workerFilename()]);
  const pool = cfg.pool;
  const uid = pool.user?.uid;
  const gid = pool.group?.gid ?? pool.user?.gid;
  return {
    file,
    socketBase: socketBase(),
    uid,
    gid,
    cwd: pool.cwd,
    init: {
      t: 'init',
      fronts: o.fronts,
      workerFile,
      hostPid: process.pid,
      sameUser: uid === undefined || uid === process.getuid?.(),
      umask: DAEMON_UMASK,
      modulePath: cfg.module,
      interface: cfg.interface,
      mount: cfg.url,
      stripPrefix: cfg.stripPrefix,
      compression: compressionOf(cfg),
      env: workerEnv(pool),
      cacheDir: o.cacheDir,
      entry: o.entry,
      cwd: pool.cwd,
      group: o.group ?? '',
      maxThreads: pool.threads * 3 + 2,
    },
  };
}
