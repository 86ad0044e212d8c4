// The ceiling hostd is measured against: raw uWebSockets.js in its own process, no vhosts, no
// mounts, no workers. Static files are read into memory at startup and served from there (with
// the tryEnd/onWritable loop, so the 10 MB file does not pile up in per-socket buffers); the
// dynamic handlers run in-process on the main thread.
//
//   node --import tsx bench/baselines/raw-uws.ts --port 8080 --files DIR

import uWS from 'uWebSockets.js';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { BIG_BYTE, BIG_SIZE, BIN_TYPE, DYNAMIC_PATHS, HELLO_BODY, HELLO_TYPE } from '../payloads.js';

const { values } = parseArgs({ options: { port: { type: 'string' }, files: { type: 'string' } } });
const port = Number(values.port);

if (typeof (uWS as unknown as { getParts?: unknown }).getParts !== 'function') {
  console.error('raw-uws: the native uWebSockets.js binary did not load (got the JS fallback)');
  process.exit(1);
}

const files = new Map<string, ArrayBuffer>();
if (values.files) {
  for (const name of readdirSync(values.files)) {
    const buf = readFileSync(join(values.files, name));
    files.set(`/${name}`, buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  }
}
const big = new Uint8Array(BIG_SIZE).fill(BIG_BYTE);

/** Streams `body` with backpressure: the canonical uWS tryEnd/onWritable loop. */
function send(res: uWS.HttpResponse, body: ArrayBuffer, type: string): void {
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
  });
  const total = body.byteLength;
  res.writeHeader('Content-Type', type);
  const [ok, done] = res.tryEnd(body, total);
  if (ok || done) return;
  res.onWritable((offset) => {
    if (aborted) return true;
    const [ok2] = res.tryEnd(new Uint8Array(body, offset), total); // a view, not a copy
    return ok2;
  });
}

const app = uWS.App();
app.get(DYNAMIC_PATHS.hello, (res) => {
  res.writeHeader('Content-Type', HELLO_TYPE).end(HELLO_BODY);
});
app.get(DYNAMIC_PATHS.big, (res) => {
  res.writeHeader('Content-Type', BIN_TYPE).end(big);
});
app.post(DYNAMIC_PATHS.echo, (res) => {
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
  });
  const chunks: Buffer[] = [];
  res.onData((chunk, isLast) => {
    chunks.push(Buffer.from(chunk.slice(0))); // onData's memory is reused: copy
    if (!isLast || aborted) return;
    const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
    res.cork(() => {
      res.writeHeader('Content-Type', BIN_TYPE).end(body);
    });
  });
});

// The same bench/apps fetch handlers hostd's pools run, called in-process on this thread
// (GET|POST /fetch/<path>): separates the cost of the fetch API (Request/Response objects) from
// the cost of hostd's hop to a worker thread. Measured only with `--with raw-uws-fetch`.
type FetchApp = { fetch(req: Request, env: Record<string, string>, ctx: unknown): Response | Promise<Response> };
const appsDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'apps');
const fetchApps: Record<string, FetchApp> = {
  [DYNAMIC_PATHS.hello]: (await import(pathToFileURL(join(appsDir, 'hello.mjs')).href)).default,
  [DYNAMIC_PATHS.echo]: (await import(pathToFileURL(join(appsDir, 'echo.mjs')).href)).default,
  [DYNAMIC_PATHS.big]: (await import(pathToFileURL(join(appsDir, 'big.mjs')).href)).default,
};
app.any('/fetch/*', (res, req) => {
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
  });
  const path = req.getUrl().slice('/fetch'.length);
  const method = req.getCaseSensitiveMethod();
  const headers = new Headers();
  req.forEach((k, v) => headers.append(k, v));
  const url = `http://${headers.get('host') ?? '127.0.0.1'}${path}`;
  const app = fetchApps[path];
  if (!app) {
    res.writeStatus('404 Not Found').end('not found');
    return;
  }
  const run = async (body?: Buffer) => {
    const response = await app.fetch(
      new Request(url, { method, headers, body: body as BodyInit | undefined }),
      {},
      { waitUntil() {}, remoteAddress: '127.0.0.1', mount: path, requestId: '' },
    );
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (aborted) return;
    res.cork(() => {
      res.writeStatus(String(response.status));
      response.headers.forEach((v, k) => {
        res.writeHeader(k, v);
      });
      res.end(bytes);
    });
  };
  if (method === 'GET' || method === 'HEAD') {
    void run();
    return;
  }
  const chunks: Buffer[] = [];
  res.onData((chunk, isLast) => {
    chunks.push(Buffer.from(chunk.slice(0)));
    if (isLast) void run(Buffer.concat(chunks));
  });
});

app.get('/*', (res, req) => {
  const body = files.get(req.getUrl());
  if (!body) {
    res.writeStatus('404 Not Found').end('not found');
    return;
  }
  send(res, body, BIN_TYPE);
});
app.listen('127.0.0.1', port, (token) => {
  if (!token) {
    console.error(`raw-uws: cannot listen on 127.0.0.1:${port}`);
    process.exit(1);
  }
  console.log(`raw-uws: listening on 127.0.0.1:${port}`);
});
