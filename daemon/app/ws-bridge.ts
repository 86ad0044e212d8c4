// WebSockets for unmodified node apps: `new WebSocketServer({ server })`, `noServer` with
// `server.on('upgrade')` + `handleUpgrade`, and socket.io 4 (engine.io runs `ws` the same way).
//
// The front has already terminated the client's WebSocket. Here an upgrade request is given to
// the app's http.Server as Node would: an 'upgrade' event with an IncomingMessage and a socket —
// an in-memory Duplex. What the library writes back decides: a 101 head accepts (ctx.upgrade), any
// other head is an ordinary HTTP answer (401, 400, ...) returned as the Response. After a 101 the
// two sides speak frames: the front's whole messages become client frames the library reads, and
// the frames the library writes become whole messages for the front (ws-frames.ts). Backpressure
// carries through: while the front reports a backlog on the socket, the library's writes are not
// acknowledged, so its bufferedAmount grows and socket.io's engine holds its packets. The other
// way, a client's message counts as handled (websocket.maxPendingBytes) once the library has read
// its frame from the socket: when the library pauses reading, frames wait in the socket's buffer
// and stay counted (ReadTracker).
//
// Sec-WebSocket-Extensions never reaches the library (the front removes it), so it never
// negotiates permessage-deflate: uWS compresses with the client, per the mount's `compression`.
import { Buffer } from 'node:buffer';
import type { EventEmitter } from 'node:events';
import { IncomingMessage } from 'node:http';
import { WS_PING, WS_PONG } from '../../shared/protocol/ws.js';
import { setRequestHead } from './node-request.js';
import { MemorySocket } from './node-socket.js';
import { WS_CONNECTION, type AppContext, type FetchHandler, type WsConnectionHandler, type WsEndpoint } from './types.js';
import {
  clientFrame,
  closePayload,
  FrameParser,
  OP_BINARY,
  OP_CLOSE,
  OP_PING,
  OP_PONG,
  OP_TEXT,
  parseClose,
  parseHead,
  type Frame,
  type WrittenHead,
} from './ws-frames.js';

/** The in-memory connection an upgrade is handed over on (what ws and engine.io touch of net.Socket). */
class UpgradeSocket extends MemorySocket {
  bytesWritten = 0;
  bytesRead = 0;

  constructor(
    ctx: AppContext,
    encrypted: boolean,
    private readonly onWrite: (chunk: Buffer, cb: (err?: Error | null) => void) => void,
    private readonly onGone: () => void,
  ) {
    super(ctx, encrypted, { allowHalfOpen: false });
  }
  override _read(): void {
    // Frames are pushed as the front delivers messages.
  }
  override _write(chunk: Buffer, _encoding: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.bytesWritten += chunk.byteLength;
    this.onWrite(chunk, cb);
  }
  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.onGone();
    cb(err);
  }
}

/**
 * When the library has read the frames pushed into an UpgradeSocket: frames it has not read yet
 * (it paused the socket) are waited for, by their end offset in the byte stream it reads.
 */
class ReadTracker {
  private pushed = 0;
  private read = 0;
  private waiting: { end: number; done: () => void }[] = [];

  constructor(socket: UpgradeSocket) {
    // Attached once the library has its own 'data' listener (after the 101): this one only counts.
    socket.on('data', (chunk: Buffer) => {
      this.read += chunk.byteLength;
      while (this.waiting.length > 0 && this.waiting[0].end <= this.read) this.waiting.shift()!.done();
    });
  }

  /** Pushes `frame`; returns a promise when the library did not read all of it at once. */
  push(socket: UpgradeSocket, frame: Buffer): Promise<void> | undefined {
    this.pushed += frame.byteLength;
    socket.push(frame);
    if (this.read >= this.pushed) return undefined;
    const end = this.pushed;
    return new Promise<void>((done) => this.waiting.push({ end, done }));
  }

  /** The socket is gone: nothing still waiting will be read. */
  release(): void {
    const w = this.waiting;
    this.waiting = [];
    for (const x of w) x.done();
  }
}

/** Headers of the library's 101 that the front's own 101 carries too (the rest uWS writes itself). */
const FRONT_WRITES = new Set(['upgrade', 'connection', 'sec-websocket-accept', 'sec-websocket-extensions', 'content-length', 'date']);
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade']);

function isUpgrade(request: Request): boolean {
  return (request.headers.get('upgrade') ?? '').toLowerCase() === 'websocket';
}

/**
 * Wraps a node app's fetch: WebSocket upgrade requests go to the server's 'upgrade' listeners
 * (when it has any: otherwise they are ordinary requests, as in Node).
 */
export function withNodeUpgrades(fetch: FetchHandler, server: () => EventEmitter | null): FetchHandler {
  return (request, env, ctx) => {
    if (!isUpgrade(request)) return fetch(request, env, ctx);
    const srv = server();
    if (srv === null || srv.listenerCount('upgrade') === 0) return fetch(request, env, ctx);
    return upgradeThrough(srv, request, ctx);
  };
}

function upgradeThrough(server: EventEmitter, request: Request, ctx: AppContext): Promise<Response> {
  return new Promise<Response>((resolve, reject) => {
    const url = new URL(request.url);
    let phase: 'head' | 'open' | 'refused' | 'done' = 'head';
    let written = Buffer.alloc(0);
    let refusal: WrittenHead | null = null;
    let refusalBody: Buffer[] = [];
    let endpoint: WsEndpoint | null = null;
    /** Frames the library wrote before the front opened the socket. */
    let early: Frame[] = [];
    /** A write acknowledged only once the socket is open, or its backlog has drained. */
    let held: ((err?: Error | null) => void) | null = null;
    let closedByFront = false;
    let terminateOnOpen = false;
    let reads: ReadTracker | null = null;

    const release = () => {
      const cb = held;
      held = null;
      cb?.();
    };

    const deliver = (f: Frame) => {
      if (endpoint === null) {
        early.push(f);
        return;
      }
      switch (f.opcode) {
        case OP_TEXT:
        case OP_BINARY:
          endpoint.send(f.payload, f.opcode, true);
          return;
        case OP_PING:
          endpoint.send(f.payload, WS_PING, false);
          return;
        case OP_CLOSE: {
          if (closedByFront) return; // the library answering the front's close: already closed
          const { code, reason } = parseClose(f.payload);
          endpoint.end(code, reason);
          return;
        }
        default:
          return; // pongs: uWS answers the client's pings itself
      }
    };
    const parser = new FrameParser(deliver);

    const finishRefusal = () => {
      if (phase !== 'refused' || refusal === null) return;
      phase = 'done';
      const headers = new Headers();
      for (let i = 0; i < refusal.headers.length; i += 2)
        if (!HOP_BY_HOP.has(refusal.headers[i])) headers.append(refusal.headers[i], refusal.headers[i + 1]);
      const body = Buffer.concat(refusalBody);
      refusalBody = [];
      const bodyless = refusal.status === 204 || refusal.status === 304 || refusal.status < 200;
      resolve(new Response(bodyless ? null : body, { status: refusal.status, statusText: refusal.statusText, headers }));
    };

    const handler: WsConnectionHandler = {
      open: (ep) => {
        endpoint = ep;
        reads = new ReadTracker(socket);
        if (terminateOnOpen) return ep.terminate();
        const frames = early;
        early = [];
        for (const f of frames) deliver(f);
        if (!ep.pressured) release();
      },
      message: (data, opcode) => {
        socket.bytesRead += data.byteLength;
        const frame = clientFrame(opcode === WS_PONG ? OP_PONG : opcode, data);
        if (reads !== null) return reads.push(socket, frame);
        socket.push(frame);
      },
      drain: release,
      close: (code, reason) => {
        closedByFront = true;
        // 1006 (no close frame) and 1015 are never sent in a frame: the connection just ends.
        if (code !== 1006 && code !== 1015) socket.push(clientFrame(OP_CLOSE, closePayload(code, reason)));
        socket.push(null);
        release();
        reads?.release();
      },
    };

    const accept = (head: WrittenHead) => {
      const headers: [string, string][] = [];
      for (let i = 0; i < head.headers.length; i += 2)
        if (!FRONT_WRITES.has(head.headers[i])) headers.push([head.headers[i], head.headers[i + 1]]);
      if (!ctx.upgrade(request, { headers, [WS_CONNECTION]: handler })) {
        phase = 'done';
        socket.destroy();
        resolve(new Response('not a WebSocket upgrade request\n', { status: 400 }));
        return;
      }
      resolve(new Response(null)); // ignored: the request is a WebSocket now
    };

    const socket = new UpgradeSocket(
      ctx,
      url.protocol === 'https:',
      (chunk, cb) => {
        if (phase === 'open') {
          parser.push(chunk);
          if (endpoint === null || endpoint.pressured) held = cb;
          else cb();
          return;
        }
        if (phase === 'refused') {
          refusalBody.push(chunk);
          cb();
          const cl = Number(refusal!.headers[refusal!.headers.indexOf('content-length') + 1]);
          if (refusal!.headers.includes('content-length') && Buffer.concat(refusalBody).byteLength >= cl) finishRefusal();
          return;
        }
        if (phase === 'done') return cb();
        written = Buffer.concat([written, chunk]);
        let head: WrittenHead | null;
        try {
          head = parseHead(written);
        } catch (err) {
          phase = 'done';
          reject(err);
          return cb();
        }
        if (head === null) return cb();
        written = Buffer.alloc(0);
        if (head.status === 101) {
          phase = 'open';
          accept(head);
          if (head.rest.byteLength > 0) parser.push(head.rest);
          if (endpoint === null) held = cb;
          else cb();
          return;
        }
        phase = 'refused';
        refusal = head;
        refusalBody = head.rest.byteLength > 0 ? [head.rest] : [];
        cb();
        const i = head.headers.indexOf('content-length');
        if (i >= 0 && i % 2 === 0 && head.rest.byteLength >= Number(head.headers[i + 1])) finishRefusal();
      },
      () => {
        // The library destroyed the socket: a terminate(), the end after a refusal, or a drop.
        if (phase === 'refused') return finishRefusal();
        if (phase === 'head') {
          phase = 'done';
          resolve(new Response('the app closed the connection without answering the upgrade\n', { status: 400 }));
          return;
        }
        if (phase === 'open' && !closedByFront) {
          if (endpoint !== null) endpoint.terminate();
          else terminateOnOpen = true;
        }
      },
    );
    socket.on('finish', () => {
      if (phase === 'refused') finishRefusal();
    });
    socket.on('error', () => {
      // Errors surface through the library's own listeners; this one keeps an unhandled 'error' from throwing.
    });

    const req = new IncomingMessage(socket as never);
    setRequestHead(req, request, url, ctx.mount);
    (req as unknown as { upgrade: boolean }).upgrade = true;
    req.complete = true;
    req.push(null);
    // A client that goes away before the library answers.
    request.signal.addEventListener('abort', () => socket.destroy(), { once: true });
    try {
      server.emit('upgrade', req, socket, Buffer.alloc(0));
    } catch (err) {
      phase = 'done';
      reject(err);
    }
  });
}
