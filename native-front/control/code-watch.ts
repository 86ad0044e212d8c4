// Code reload without a signal: `watch: true` on an app mount rolls its pool when a file in the
// module's folder changes (development); `touchFile` rolls it when that file's mtime changes
// (mod_wsgi's habit of touching the .wsgi file). Changes are debounced so an editor's burst of
// writes, or a `git checkout`, costs one roll.
import { watch, watchFile, unwatchFile, type FSWatcher, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import type { ResolvedApp } from '../../shared/config/types.js';

const DEBOUNCE_MS = 150;
const IGNORED = /(^|[/\\])(node_modules|\.git|\.hostd-cache)([/\\]|$)/;

/** Watches what `app` asks for and calls `roll` on changes; returns a function that stops it. */
export function watchApp(app: ResolvedApp, roll: (reason: string) => void): () => void {
  const stops: (() => void)[] = [];
  let timer: NodeJS.Timeout | undefined;
  const soon = (reason: string) => {
    clearTimeout(timer);
    timer = setTimeout(() => roll(reason), DEBOUNCE_MS);
  };

  if (app.watch) {
    let watcher: FSWatcher | undefined;
    try {
      watcher = watch(dirname(app.module), { recursive: true, persistent: false }, (_event, file) => {
        if (file && !IGNORED.test(String(file))) soon(`watch: ${file}`);
      });
      watcher.on('error', () => watcher?.close());
    } catch {
      // A folder that cannot be watched (too many watches): the touch file and SIGHUP still work.
    }
    stops.push(() => watcher?.close());
  }

  if (app.touchFile) {
    const file = app.touchFile;
    const listener = (curr: Stats, prev: Stats) => {
      if (curr.mtimeMs !== prev.mtimeMs && curr.mtimeMs !== 0) soon(`touch: ${file}`);
    };
    watchFile(file, { interval: 500, persistent: false }, listener);
    stops.push(() => unwatchFile(file, listener));
  }

  return () => {
    clearTimeout(timer);
    for (const stop of stops) stop();
  };
}
