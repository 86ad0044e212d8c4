// The configuration API: load and validate vhost files or objects, and describe the result.
export type * from './types.js';
export { loadSites, loadSiteFile, SITE_EXTENSIONS } from './load.js';
export type { LoadSitesOptions, LoadedSites } from './load.js';
export { resolveVhost, resolveMount, mountSource, DEFAULTS, MODULE_EXTENSIONS } from './resolve.js';
export type { ResolveVhostOptions, ResolveMountOptions, MountSource } from './resolve.js';
export { checkConflicts } from './conflicts.js';
export { formatProblem, describeSites } from './describe.js';
export { parseDuration, parseSize, formatDuration, formatSize } from './duration.js';
export { parseListen, formatListen, DEFAULT_LISTEN } from './listen.js';
export { normalizeServerName, normalizeMountUrl } from './names.js';
export { vhostSchema } from './schema.js';
