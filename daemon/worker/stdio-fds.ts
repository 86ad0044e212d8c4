// Apps' writes to file descriptors 1 and 2 through `fs`. In a worker, fd 1 and fd 2 are the
// host process's own stdout and stderr: the access log stream (`--access-log -`) and the error
// log (`--error-log -`). `fs.writeSync(1, ...)` from an app would put untagged bytes there, in the
// middle of the front's lines. routeStdioFds() sends them to the worker's log sink instead (the
// front tags them with the mount), and makes closing fds 0-2 a no-op: a WriteStream opened on
// fd 1 closes it when it ends, which would close the host's log stream.
//
// Caught: fs.write, writeSync, writev, writevSync, writeFile(Sync), appendFile(Sync) and
// fs.createWriteStream(null, { fd: 1 }) (it writes through fs.write), whether imported as
// `fs.x`, `import { x } from 'node:fs'` or require('fs').x.
// Not caught, and why: native code (an addon, or Node's own process._rawDebug) writes to fd 1
// with write(2), below JavaScript; a file opened by name that is the same stream
// (`/dev/stdout`, `/proc/self/fd/1`) gets a new descriptor number; fs.promises takes FileHandles,
// which cannot be made for fd 1 without such an open. Child processes the app starts inherit
// fds 1 and 2 unless it passes `stdio`. Where the logs go to files (--access-log FILE,
// --error-log FILE), nothing reaches them through fds 1 and 2 in any case.
// biome-ignore-all lint/complexity/noArguments: the wrappers hand every overload's arguments to the original fs function unchanged
import { Buffer } from 'node:buffer';
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';

export type FdSink = (fd: 1 | 2, text: string) => void;

type Callback = (...args: unknown[]) => void;

function isStdio(fd: unknown): fd is 1 | 2 {
  return fd === 1 || fd === 2;
}

/** The bytes `write`/`writeSync` would write, as text, and their length. */
function payload(data: unknown, a?: unknown, b?: unknown): { text: string; bytes: number } {
  if (typeof data === 'string') {
    const enc = (typeof b === 'string' ? b : 'utf8') as BufferEncoding;
    return { text: enc === 'utf8' ? data : Buffer.from(data, enc).toString('utf8'), bytes: Buffer.byteLength(data, enc) };
  }
  const view = data as ArrayBufferView;
  const all = Buffer.from(view.buffer, view.byteOffset, view.byteLength);
  // (buffer, offset, length) or (buffer, { offset, length })
  const opts =
    a !== null && typeof a === 'object'
      ? (a as { offset?: number; length?: number })
      : { offset: a as number | undefined, length: b as number | undefined };
  const offset = typeof opts.offset === 'number' ? opts.offset : 0;
  const length = typeof opts.length === 'number' ? opts.length : all.length - offset;
  const slice = all.subarray(offset, offset + length);
  return { text: slice.toString('utf8'), bytes: slice.length };
}

function fileData(data: unknown, options: unknown): string {
  if (typeof data === 'string') {
    const enc = typeof options === 'string' ? options : (options as { encoding?: string } | undefined)?.encoding;
    return enc && enc !== 'utf8' && enc !== 'utf-8' ? Buffer.from(data, enc as BufferEncoding).toString('utf8') : data;
  }
  const view = data as ArrayBufferView;
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength).toString('utf8');
}

let installed = false;

/** Replaces fs's write functions for fds 1 and 2 in this worker; `sink` gets the text. */
export function routeStdioFds(sink: FdSink): void {
  if (installed) return;
  installed = true;
  const f = fs as unknown as Record<string, (...args: unknown[]) => unknown>;
  const orig = { ...f };
  const emit = (fd: 1 | 2, text: string) => {
    if (text.length > 0) sink(fd, text.endsWith('\n') ? text.slice(0, -1) : text);
  };
  const later = (cb: unknown, ...args: unknown[]) => {
    if (typeof cb === 'function') process.nextTick(() => (cb as Callback)(...args));
  };

  f.writeSync = function writeSync(fd, data, a, b) {
    if (!isStdio(fd)) return orig.writeSync.apply(fs, arguments as never);
    const p = payload(data, a, b);
    emit(fd, p.text);
    return p.bytes;
  };
  f.write = function write(fd, data, ...rest) {
    if (!isStdio(fd)) return orig.write.apply(fs, arguments as never);
    const cb = rest.pop();
    const p = payload(data, rest[0], rest[1]); // (position, encoding) or (offset, length[, position]) or (options)
    emit(fd, p.text);
    later(cb, null, p.bytes, data);
  };
  const joined = (buffers: unknown) =>
    (buffers as ArrayBufferView[])
      .map((v) => payload(v))
      .reduce((s, p) => ({ text: s.text + p.text, bytes: s.bytes + p.bytes }), { text: '', bytes: 0 });
  f.writevSync = function writevSync(fd, buffers) {
    if (!isStdio(fd)) return orig.writevSync.apply(fs, arguments as never);
    const p = joined(buffers);
    emit(fd, p.text);
    return p.bytes;
  };
  f.writev = function writev(fd, buffers, ...rest) {
    if (!isStdio(fd)) return orig.writev.apply(fs, arguments as never);
    const p = joined(buffers);
    emit(fd, p.text);
    later(rest.pop(), null, p.bytes, buffers);
  };
  for (const name of ['writeFileSync', 'appendFileSync'] as const) {
    f[name] = function (file, data, options) {
      if (!isStdio(file)) return orig[name].apply(fs, arguments as never);
      emit(file, fileData(data, options));
    };
  }
  for (const name of ['writeFile', 'appendFile'] as const) {
    f[name] = function (file, data, ...rest) {
      if (!isStdio(file)) return orig[name].apply(fs, arguments as never);
      const cb = rest.pop();
      emit(file, fileData(data, rest[0]));
      later(cb, null);
    };
  }
  // Closing the host's standard streams would cut its logs: pretend it worked.
  f.closeSync = function closeSync(fd) {
    if (fd === 0 || isStdio(fd)) return;
    return orig.closeSync.apply(fs, arguments as never);
  };
  f.close = function close(fd, cb) {
    if (fd === 0 || isStdio(fd)) return later(cb, null);
    return orig.close.apply(fs, arguments as never);
  };
  syncBuiltinESMExports();
}
