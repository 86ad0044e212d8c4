// Worker console output goes to hostd's error log, tagged with the mount on the front side.
// A worker's process.stdout/stderr would otherwise be piped, untagged, into the host process's
// own stdout: console.*, direct stream writes and fs writes to fds 1 and 2 (stdio-fds.ts) are
// all redirected into LOG messages.
import { format } from 'node:util';
import { LOG_ERROR, LOG_INFO, LOG_WARN } from '../../shared/protocol/index.js';
import { routeStdioFds } from './stdio-fds.js';

export type LogSink = (level: number, text: string) => void;

/** The sink of the last forwardConsole call, kept out of the app's reach (console can be replaced). */
let hostSink: LogSink | null = null;

/** Writes one line to hostd's error log from this worker (the process guard reports through it). */
export function reportToHost(level: number, text: string): void {
  if (hostSink) hostSink(level, text);
  else process.stderr.write(text + '\n');
}

function trimNl(s: string): string {
  return s.endsWith('\n') ? s.slice(0, -1) : s;
}

export function forwardConsole(sink: LogSink): void {
  hostSink = sink;
  const at =
    (level: number) =>
    (...args: unknown[]) =>
      sink(level, format(...args));
  console.log = at(LOG_INFO);
  console.info = at(LOG_INFO);
  console.debug = at(LOG_INFO);
  console.warn = at(LOG_WARN);
  console.error = at(LOG_ERROR);
  console.trace = (...args: unknown[]) => {
    const err = new Error(format(...args));
    err.name = 'Trace';
    sink(LOG_ERROR, err.stack ?? err.message);
  };
  const streamWrite = (level: number) =>
    function write(chunk: unknown, encOrCb?: unknown, cb?: unknown): boolean {
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8');
      if (text.length > 0) sink(level, trimNl(text));
      const done = typeof encOrCb === 'function' ? encOrCb : cb;
      if (typeof done === 'function') queueMicrotask(() => (done as () => void)());
      return true;
    };
  // Node's console methods not overridden above (dir, table, ...) write through these too.
  (process.stdout as { write: unknown }).write = streamWrite(LOG_INFO);
  (process.stderr as { write: unknown }).write = streamWrite(LOG_ERROR);
  // Installed once per thread; later writes go to the current sink.
  routeStdioFds((fd, text) => hostSink?.(fd === 1 ? LOG_INFO : LOG_ERROR, text));
}
