// Builds dist/ with esbuild: one bundle per entry (the CLI, the library entry, the thread
// entries), npm dependencies left external so uWebSockets.js loads its own native binary.
// Then the type declarations: tsc (tsconfig.types.json) emits the tree under dist/types/ and
// dist/index.d.ts re-exports its entry, the package's `types` (no bundling tool needed).
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { bundleOptions, threadEntries } from './build-options.mjs';

await rm('dist', { recursive: true, force: true });
await build({
  ...bundleOptions,
  // cli: the executable installs signal handlers first, then loads native-front/cli/main.ts or the supervisor.
  entryPoints: { cli: 'native-front/supervisor/boot.ts', index: 'index.ts', ...threadEntries },
  outdir: 'dist',
  sourcemap: true,
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  logLevel: 'warning',
});

// typescript's `exports` hide bin/tsc: find it beside its package.json.
const tsc = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');
execFileSync(process.execPath, [tsc, '-p', 'tsconfig.types.json'], { stdio: 'inherit' });
await writeFile(
  'dist/index.d.ts',
  "// hostd's public types: the programmatic API and app-facing types.\nexport * from './types/index.js';\n",
);
