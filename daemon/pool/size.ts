// How many worker threads a pool runs. In a process pool `threads` and `minThreads` count per
// daemon process (docs/config.md: `processes` × `threads`); in a thread pool, per pool.
import type { ResolvedPool } from '../../shared/config/types.js';

const processesOf = (pool: ResolvedPool): number => (pool.isolation === 'process' ? pool.processes : 1);

/** The workers of the pool at full size. */
export const fullSize = (pool: ResolvedPool): number => pool.threads * processesOf(pool);

/** The fewest workers idle reaping leaves (minThreads, per process in a process pool). */
export const minSize = (pool: ResolvedPool): number => pool.minThreads * processesOf(pool);
