// The compression defaults, apart from the resolver so that workers (which compress app
// responses) do not load the configuration machinery.
import type { ResolvedCompression } from './types.js';

/**
 * Compression when neither the vhost nor the mount says otherwise. minSize 1 KiB: below it a
 * response (with its headers) fits one TCP segment either way, so compressing saves no round
 * trip and costs CPU plus two headers. gzip 6 and brotli 5: measured on 100 KB of source text
 * (docs/config.md), brotli 5 is both faster and smaller than gzip 6, and the levels above cost
 * several times more for 1-2% (brotli 11: ~60x the time for 9%).
 */
export const DEFAULT_COMPRESSION: Readonly<ResolvedCompression> = Object.freeze({
  enabled: true,
  minSize: 1024,
  types: null,
  level: Object.freeze({ gzip: 6, br: 5 }),
});
