// Builds dist/ with esbuild: one bundle per entry (the CLI, the library entry, the worker),
// npm dependencies left external so uWebSockets.js loads its own native binary.
import { build } from 'esbuild';
import { rm } from 'node:fs/promises';

await rm('dist', { recursive: true, force: true });
await build({
  entryPoints: {
    cli: 'native-front/cli.ts',
    index: 'index.ts',
    worker: 'daemon/worker/entry.ts',
    'proxy-gateway': 'native-front/proxy-protocol/gateway-thread.ts',
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
