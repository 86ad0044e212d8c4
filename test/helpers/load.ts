// Bounded concurrent load that counts every response and every failure, for reload tests.
import { Pool } from 'undici';

export interface LoadResult {
  total: number;
  byStatus: Record<number, number>;
  errors: string[];
  versions: Record<string, number>;
}

export interface LoadRun {
  /** Counts so far (updated as answers arrive): wait on `result.total` to let the load make progress. */
  readonly result: LoadResult;
  /** Stops after the requests in flight and resolves with the final counts. */
  stop(): Promise<LoadResult>;
}

/**
 * Runs `concurrency` request loops against `paths` (round robin) until stop(), counting every
 * response and every failure. App responses' "version" fields are tallied. `maxMs` (default
 * 60 s) bounds a run whose stop() never comes.
 */
export function startLoad(origin: string, paths: string[], opts: { concurrency?: number; maxMs?: number } = {}): LoadRun {
  const concurrency = opts.concurrency ?? 16;
  const deadline = Date.now() + (opts.maxMs ?? 60_000);
  let stopped = false;
  const pool = new Pool(origin, { connections: concurrency, pipelining: 1 });
  const result: LoadResult = { total: 0, byStatus: {}, errors: [], versions: {} };
  let n = 0;
  const worker = async () => {
    while (!stopped && Date.now() < deadline) {
      const path = paths[n++ % paths.length];
      try {
        const res = await pool.request({ path, method: 'GET' });
        const body = await res.body.text();
        result.byStatus[res.statusCode] = (result.byStatus[res.statusCode] ?? 0) + 1;
        if (res.statusCode === 200 && body.startsWith('{')) {
          const v = (JSON.parse(body) as { version: string }).version;
          result.versions[v] = (result.versions[v] ?? 0) + 1;
        }
      } catch (err) {
        result.errors.push(`${path}: ${(err as Error).message}`);
      }
      result.total++;
    }
  };
  const running = Promise.all(Array.from({ length: concurrency }, worker));
  return {
    result,
    async stop() {
      stopped = true;
      await running;
      await pool.close();
      return result;
    },
  };
}
