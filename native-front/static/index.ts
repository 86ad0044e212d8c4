// Static file serving on the front thread: the Alias analogue.
export { FileCache, type FileCacheOptions, type FileCacheStats } from './file-cache.js';
export { createStaticMount, type StaticMountDeps } from './static-mount.js';
export { resolveUrlPath, type ResolvedPath } from './resolve-path.js';
