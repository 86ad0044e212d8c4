// What every server in the bench answers, in one place, so hostd's apps (bench/apps/*.mjs, which
// repeat these literals because they are plain JS loaded by the pool) and the baselines serve the
// same bytes with the same Content-Type.

export const HELLO_BODY = 'Hello, World!';
export const HELLO_TYPE = 'text/plain;charset=UTF-8'; // what `new Response(string)` sends
export const BIG_SIZE = 64 * 1024; // the "64 KB response"
export const BIG_BYTE = 0x78; // 'x'
export const BIN_TYPE = 'application/octet-stream';
export const ECHO_SIZE = 1024; // the POST body bench/echo.lua sends

/** The static files, generated at run time (random bytes, so nothing compresses them away). */
export const STATIC_FILES = [
  { scenario: 'static-1k', name: '1k.bin', size: 1024, label: 'static 1 KiB' },
  { scenario: 'static-100k', name: '100k.bin', size: 100 * 1024, label: 'static 100 KB' },
  { scenario: 'static-10m', name: '10m.bin', size: 10 * 1024 * 1024, label: 'static 10 MB' },
] as const;

/**
 * The text file of the on-the-fly compression scenario (issue 14): hostd compresses it once and
 * keeps the gzip bytes in its file cache; nginx (`gzip on`) compresses it per request.
 */
export const TEXT_FILE = { scenario: 'static-100k-gzip', name: '100k.txt', size: 100 * 1024, label: 'static 100 KB gzip' } as const;

/** URL paths of the dynamic handlers, the same on hostd's app vhost and on the baselines. */
export const DYNAMIC_PATHS = { hello: '/hello', echo: '/echo', big: '/64k' } as const;

/** The Host the hostd app vhost answers to (the static vhost is the catch-all). */
export const APP_HOST = 'app.bench';
