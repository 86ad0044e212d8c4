// What a new daemon worker is given: the one `serve` task it runs for its whole life (its ports,
// its board, the app to load and how to serve it). Kept apart from the worker set because this is
// the contract with daemon/worker/entry.ts, not supervision: a new task field is an edit here.
import { DEFAULT_COMPRESSION } from '../../shared/config/compression.js';
import type { ResolvedApp, ResolvedCompression } from '../../shared/config/types.js';
import type { ServeTask } from '../../shared/protocol/index.js';
import type { PoolWorker } from './worker.js';

/** The mount's compression settings (on by default for text types), or null when off. */
export function compressionOf(cfg: ResolvedApp): ResolvedCompression | null {
  const c = cfg.compression ?? DEFAULT_COMPRESSION;
  return c.enabled ? c : null;
}

/**
 * The serve task of worker `w` of mount `cfg`. `entry`: the module the pool compiled (TypeScript,
 * JSX), unset when the worker loads `cfg.module` itself. `group`: the pool's name for its workers.
 */
export function serveTask(
  w: PoolWorker,
  cfg: ResolvedApp,
  entry: string | undefined,
  cacheDir: string | undefined,
  group: string,
): ServeTask {
  return {
    kind: 'serve',
    control: w.workerControl,
    links: w.workerLinks,
    board: w.board.buffer,
    addresses: w.frontAttach.map((a) => a.address),
    modulePath: cfg.module,
    interface: cfg.interface,
    mount: cfg.url,
    stripPrefix: cfg.stripPrefix,
    compression: compressionOf(cfg),
    env: cfg.pool.env,
    cwd: cfg.pool.cwd,
    cacheDir,
    entry,
    group,
    key: w.key,
  };
}
