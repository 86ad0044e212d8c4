// The front's response cache (RFC 9111 shared-cache semantics) for app mounts. The engine
// (ResponseCache, Filler) knows nothing of uWS or the worker protocol; write-hit.ts writes its
// answers into uWS responses. See response-cache.ts for the calling sequence.
export { ResponseCache, Filler, STRIPPED_REQUEST_HEADERS } from './response-cache.js';
export type { CacheStats, FillDecision, Lookup, ResponseCacheOptions } from './response-cache.js';
export { CachedEntry } from './entry.js';
export type { XCacheLabel } from './entry.js';
export { HeaderSnapshot } from './headers.js';
export type { RequestView } from './headers.js';
export { sendHit, writeHit, writeNotModified } from './write-hit.js';
export type { HitRequest, HitWritten } from './write-hit.js';
