// Builds dist/ with esbuild: one bundle per entry (the CLI, the library entry, the thread
// entries), npm dependencies left external so uWebSockets.js loads its own native binary.
import { build } from 'esbuild';
import { rm } from 'node:fs/promises';
import { bundleOptions, threadEntries } from './build-options.mjs';

await rm('dist', { recursive: true, force: true });
await build({
  ...bundleOptions,
  // cli: the executable installs signal handlers first, then loads native-front/cli.ts or the supervisor.
  entryPoints: { cli: 'native-front/supervisor/boot.ts', index: 'index.ts', ...threadEntries },
  outdir: 'dist',
  sourcemap: true,
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  logLevel: 'warning',
});
