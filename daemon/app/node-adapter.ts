// Runs a Node (req, res) listener — a raw listener, an Express app, koa.callback() — unmodified
// against a fetch Request and produces a fetch Response whose body streams as the app writes.
// The worker serves node apps' HTTP requests on the direct path instead (node-direct.ts,
// daemon/worker/node-exchange.ts: no fetch objects at all); this wrapper is LoadedApp.fetch of a
// node app, used for its WebSocket upgrades (ws-bridge.ts) and by callers that speak fetch.
//
// Why not fetch-to-node (a maintained fetch ⇄ node bridge)? Checked against v2.1.0:
//  - Express 5 swaps the prototypes of req/res to ones derived from node:http's own
//    IncomingMessage/ServerResponse (app.handle → Object.setPrototypeOf). fetch-to-node's objects
//    then lose their methods: res.json() writes into Node's internal buffer and nothing reaches
//    the Response (toFetchResponse even throws "must be called on a ServerResponse ...").
//  - Its WrittenDataBuffer keeps every chunk ever written (entries never drop) and rescans them
//    on every write: a long SSE stream or a big download grows memory and costs O(n²); write()
//    always returns true, so there is no backpressure.
//  - req.socket is null, so req.socket.remoteAddress and Express's req.ip throw.
// So this adapter uses node:http's real IncomingMessage and ServerResponse (what Express, Koa
// and every middleware are written against) attached to a small in-memory "socket" Duplex: the
// response's bytes arrive at the socket, the header block is parsed once, and the body bytes
// are enqueued into a ReadableStream whose pull() releases the socket's write callback —
// a slow consumer makes res.write() return false and 'drain' fire later, as on a real socket.
// Chunked framing is switched off on the response (the front frames the body itself), so what
// reaches the socket after the head is exactly the body.
//
// This file runs one exchange (the request body pulled on demand, the response bytes turned into
// a stream, the end, the client going away); the socket is node-socket.ts, the request's head
// node-request.ts, the parser of the response's head node-response-head.ts.
import { IncomingMessage, ServerResponse } from 'node:http';
import { BridgeSocket, forwardDrain } from './node-socket.js';
import { setRequestHead } from './node-request.js';
import { NULL_BODY, parseHead, type ParsedHead } from './node-response-head.js';
import type { AppContext, FetchHandler } from './types.js';
import { abortError } from './node-internals.js';

export { stripMount } from './node-request.js';

export type NodeListener = (req: IncomingMessage, res: ServerResponse) => unknown;

/** Bytes the response body stream buffers before res.write() reports backpressure. */
const BODY_HIGH_WATER = 64 * 1024;

/** Wrap a (req, res) listener as a FetchHandler. */
export function nodeListenerToFetch(listener: NodeListener): FetchHandler {
  return (request: Request, _env: Record<string, string>, ctx: AppContext): Promise<Response> => runNodeListener(listener, request, ctx);
}

/** One request through the listener: resolves with the Response once the app has written its head. */
function runNodeListener(listener: NodeListener, request: Request, ctx: AppContext): Promise<Response> {
  const url = new URL(request.url);
  const socket = new BridgeSocket(ctx, url.protocol === 'https:');
  const req = new IncomingMessage(socket as never);
  setRequestHead(req, request, url, ctx.mount);

  // ---- request body: pulled from request.body on demand (the Readable's _read), so a large
  // upload flows through at the app's pace and is never buffered whole.
  const bodyStream = request.body;
  let reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  let reading = false;
  let bodyDone = bodyStream === null;
  // An own property: Express replaces req's prototype, so a subclass method would be lost.
  const internals = req as unknown as {
    _read(n: number): void;
    _consuming: boolean;
    _readableState: { readingMore: boolean };
  };
  internals._read = () => {
    // As IncomingMessage's own _read: the first read lifts the "don't read ahead" latch the
    // constructor sets, and marks the body as being consumed (so it is not dumped at the end).
    if (!internals._consuming) {
      internals._readableState.readingMore = false;
      internals._consuming = true;
    }
    if (reading) return;
    if (bodyDone) {
      req.complete = true;
      req.push(null);
      return;
    }
    reader ??= bodyStream!.getReader();
    reading = true;
    reader.read().then(
      ({ done, value }) => {
        reading = false;
        if (req.destroyed) return;
        if (done) {
          bodyDone = true;
          req.complete = true;
          req.push(null);
        } else {
          // Readable calls _read again when it wants more (push() returning false means wait).
          req.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
        }
      },
      (err: unknown) => {
        reading = false;
        bodyDone = true;
        if (!req.destroyed) req.destroy(err instanceof Error ? err : new Error(String(err)));
      },
    );
  };

  const res = new ServerResponse(req);
  // No Date (the front adds one) and no chunked framing (the front frames the body itself).
  res.sendDate = false;
  Object.defineProperty(res, 'chunkedEncoding', { get: () => false, set: () => {}, configurable: true });

  return new Promise<Response>((resolve, reject) => {
    let headParsed = false;
    let settled = false;
    let finished = false;
    let aborted = false;
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    let pendingCb: ((err?: Error | null) => void) | null = null;
    let hasBody = true;

    const body = new ReadableStream<Uint8Array>(
      {
        start(c) {
          controller = c;
        },
        pull() {
          const cb = pendingCb;
          pendingCb = null;
          cb?.();
        },
        cancel() {
          abort();
        },
      },
      { highWaterMark: BODY_HIGH_WATER, size: (chunk) => chunk.byteLength },
    );

    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      reject(err);
    };

    socket.onChunk = (chunk, encoding, cb) => {
      if (aborted) return cb(abortError());
      if (!headParsed) {
        const head = (res as unknown as { _header: string | null })._header;
        if (typeof chunk !== 'string' || !head || !chunk.startsWith(head)) {
          // An informational block (writeContinue / writeProcessing / writeEarlyHints) before
          // the real head: the front has no way to forward it, so it is dropped.
          return cb();
        }
        headParsed = true;
        let parsed: ParsedHead;
        try {
          parsed = parseHead(head.slice(0, head.length - 4));
        } catch (err) {
          fail(err);
          return cb(err as Error);
        }
        hasBody = !NULL_BODY.has(parsed.status) && request.method !== 'HEAD';
        settled = true;
        resolve(
          new Response(hasBody ? body : null, {
            status: parsed.status,
            statusText: parsed.statusText,
            headers: parsed.headers,
          }),
        );
        chunk = chunk.slice(head.length);
        if (chunk.length === 0) return cb();
      }
      if (!hasBody) return cb();
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk;
      if (bytes.byteLength === 0) return cb();
      try {
        controller.enqueue(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      } catch (err) {
        return cb(err as Error); // stream cancelled meanwhile
      }
      // Hold the callback while the consumer is behind: Node then reports backpressure.
      if ((controller.desiredSize ?? 1) > 0) cb();
      else pendingCb = cb;
    };

    forwardDrain(socket, res);

    res.assignSocket(socket as never);

    res.on('finish', () => {
      finished = true;
      if (!headParsed) {
        fail(new Error('node adapter: the response finished without a head'));
        return;
      }
      if (hasBody) {
        try {
          controller.close();
        } catch {
          // already cancelled
        }
      }
      // The server's resOnFinish: stop reading an unread body, let req/res emit 'close'.
      if (!bodyDone) {
        bodyDone = true;
        const r = reader as ReadableStreamDefaultReader<Uint8Array> | null;
        if (r) r.cancel().catch(() => {});
        else if (bodyStream && !bodyStream.locked) bodyStream.cancel().catch(() => {});
      }
      res.detachSocket(socket as never);
      // Like node:http's _dump(): an unread request ends (its 'end'/'close' fire) without
      // being reported as aborted.
      if (!req.readableEnded && !internals._consuming) {
        req.removeAllListeners('data');
        req.resume();
      }
      process.nextTick(() => res.emit('close'));
    });

    // The client went away: what a closing TCP socket does in node:http.
    function abort() {
      if (finished || aborted) return;
      aborted = true;
      fail(abortError());
      socket.destroy(); // → res 'close' (ServerResponse listens on the socket)
      // As node:http's abortIncoming: an unfinished request emits 'aborted', then 'close'
      // (and 'error' only if someone listens for it).
      if (!req.destroyed) req.destroy(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
      const cb = pendingCb;
      pendingCb = null;
      cb?.(abortError());
      try {
        controller.error(abortError());
      } catch {
        // not readable any more
      }
    }
    if (request.signal.aborted) return abort();
    request.signal.addEventListener('abort', abort, { once: true });

    socket.on('close', () => {
      if (!finished && !headParsed) fail(new Error('node adapter: the app closed the connection without a response'));
    });
    res.on('error', (err) => fail(err));

    try {
      const ret = listener(req, res) as { then?: unknown } | undefined;
      if (ret && typeof ret.then === 'function') (ret as Promise<unknown>).then(undefined, fail);
    } catch (err) {
      fail(err);
    }
  });
}
