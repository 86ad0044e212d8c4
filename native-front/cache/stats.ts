// The response cache's counters (per mount, per front; /status sums the fronts'), and the
// snapshot stats() gives.

export interface CacheStats {
  entries: number;
  bytes: number;
  /** Answered from a fresh entry. */
  hits: number;
  /** Sent to the app by the cache (fills, revalidations, passes). */
  misses: number;
  /** Answered from a stale entry (stale-while-revalidate, stale-if-error). */
  staleServes: number;
  /** Requests that waited for another request's fetch of the same key. */
  coalescedWaits: number;
  /** Stale entries renewed by a 304. */
  revalidations: number;
  /** Background refreshes started (stale-while-revalidate). */
  refreshes: number;
  stores: number;
  evictions: number;
  purged: number;
  /** Fills given up because the body went over maxObjectSize. */
  abandoned: number;
  /** Requests the cache does not handle (methods, Cookie, Range/HEAD misses). */
  bypasses: number;
}

export class CacheCounters {
  hits = 0;
  misses = 0;
  staleServes = 0;
  coalescedWaits = 0;
  revalidations = 0;
  refreshes = 0;
  stores = 0;
  purged = 0;
  abandoned = 0;
  bypasses = 0;

  /** A snapshot, with what the storage knows (entries, bytes held, evictions). */
  stats(entries: number, bytes: number, evictions: number): CacheStats {
    return {
      entries,
      bytes,
      hits: this.hits,
      misses: this.misses,
      staleServes: this.staleServes,
      coalescedWaits: this.coalescedWaits,
      revalidations: this.revalidations,
      refreshes: this.refreshes,
      stores: this.stores,
      evictions,
      purged: this.purged,
      abandoned: this.abandoned,
      bypasses: this.bypasses,
    };
  }
}
