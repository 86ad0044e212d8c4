// Builds dist/ with esbuild: one bundle per entry (the CLI, the library entry, the worker),
// npm dependencies left external so uWebSockets.js loads its own native binary.
import { build } from 'esbuild';
import { rm } from 'node:fs/promises';

await rm('dist', { recursive: true, force: true });
await build({
  entryPoints: {
    // The executable: installs signal handlers, then loads native-front/cli.ts or the supervisor.
    cli: 'native-front/supervisor/boot.ts',
    index: 'index.ts',
    worker: 'daemon/worker/entry.ts',
  },
  outdir: 'dist',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  packages: 'external',
  sourcemap: true,
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  banner: { js: "import { createRequire as __hostdCreateRequire } from 'node:module'; const require = __hostdCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
