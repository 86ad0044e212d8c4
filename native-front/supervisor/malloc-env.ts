// The allocator setting the serving process starts with (the supervisor sets it in its child's
// environment; glibc reads it once, at process start, so the process cannot set it for itself).
//
// Why: a worker that leaked Buffers is replaced, and its memory is freed, but glibc's malloc
// raises its mmap threshold (dynamically, up to 32 MiB) each time it frees a large mmap'd block.
// After the first replaced leaker, later large blocks come from malloc's arenas, and arena
// memory freed in the middle stays resident: measured here, three leaks of 500 x 1 MiB Buffers
// in a 64 MB pool, each worker replaced, left RSS at ~420 MB instead of ~95 MB. A fixed
// threshold (glibc's default starting value, 128 KiB) keeps every large block in its own
// mapping, given back to the system when freed: RSS returns to where it was.

/** The variables the serving process should start with that `env` does not already set. */
export function mallocEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  if (env.MALLOC_MMAP_THRESHOLD_ !== undefined || env.GLIBC_TUNABLES?.includes('mmap_threshold')) return {};
  return { MALLOC_MMAP_THRESHOLD_: '131072' };
}
