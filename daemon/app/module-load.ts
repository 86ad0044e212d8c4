// Seeing a library as the app loads it, to adjust it for life in a pool worker without the app
// changing a line (engine-io.ts: sticky sessions; socketio/install.ts: the pool-wide adapter).
// CommonJS packages all pass through Module._load: `require('x')` from other CommonJS code, and an
// ESM `import 'x'` of a CommonJS package too (Node loads it by its resolved file name then).
import Module from 'node:module';
import { isMainThread } from 'node:worker_threads';

/** `request`: what was asked for ('engine.io', or an absolute file name); `parent`: who asked. */
export type LoadWatcher = (request: string, exported: unknown, parent: unknown) => void;

type Load = (this: unknown, request: string, parent: unknown, isMain: boolean) => unknown;

const watchers: LoadWatcher[] = [];

/** In a worker thread: calls `watcher` after each module load (never on the main thread, where tests load apps too). */
export function afterModuleLoad(watcher: LoadWatcher): void {
  if (isMainThread) return;
  if (watchers.length === 0) {
    const M = Module as unknown as { _load: Load };
    const load = M._load;
    M._load = function (this: unknown, request: string, parent: unknown, isMain: boolean): unknown {
      const exported = load.call(this, request, parent, isMain);
      for (const w of watchers) w(request, exported, parent);
      return exported;
    };
  }
  watchers.push(watcher);
}
