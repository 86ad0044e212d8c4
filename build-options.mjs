// esbuild options shared by the package build (build.mjs) and the development-time bundling of
// thread entries (shared/thread-file.ts): one place for the banner and the targets.
/** Thread entries: a worker file per kind of thread hostd starts. */
export const threadEntries = {
  worker: 'daemon/worker/entry.ts',
  front: 'native-front/front/thread.ts',
  'proxy-gateway': 'native-front/proxy-protocol/gateway-thread.ts',
  // Not a thread: the main file of a daemon process (pool.isolation: process).
  'daemon-process': 'daemon/process/entry.ts',
};

export const bundleOptions = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  packages: 'external',
  // ESM bundles of CommonJS-minded dependencies still call require().
  banner: {
    js: "import { createRequire as __hostdCreateRequire } from 'node:module'; const require = __hostdCreateRequire(import.meta.url);",
  },
};
