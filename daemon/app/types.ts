// The one interface the worker runs: every user module, whatever its style (fetch handler,
// node (req, res) listener, Express, Koa), is normalised to a FetchHandler by loadApp().

export interface AppContext {
  waitUntil(promise: Promise<unknown>): void;
  /** The client address, after trusted-proxy resolution. */
  remoteAddress: string;
  /** The mount prefix ("" for a root mount): the SCRIPT_NAME analogue. */
  mount: string;
  requestId: string;
  /**
   * Accepts a WebSocket upgrade request (Bun's server.upgrade): true when it will be accepted,
   * false when `request` is not an upgrade request. What fetch returns afterwards is ignored.
   * The socket's events go to the module's `websocket` handlers (daemon/worker/ws).
   */
  upgrade(request: Request, options?: UpgradeOptions): boolean;
  /** Publishes to every subscriber of `topic` on this mount (Bun's server.publish); the bytes handed over, 0 if none. */
  publish(topic: string, data: string | ArrayBufferLike | ArrayBufferView, compress?: boolean): number;
}

export interface UpgradeOptions {
  /** Per-connection data: `ws.data` in every handler. */
  data?: unknown;
  /** Extra headers of the 101 answer (Set-Cookie, Sec-WebSocket-Protocol to pick a subprotocol). */
  headers?: HeadersInit;
  /** @internal The node bridge takes the socket's events itself (daemon/app/ws-bridge.ts). */
  [WS_CONNECTION]?: WsConnectionHandler;
}

/** @internal */
export const WS_CONNECTION: unique symbol = Symbol('hostd.wsConnection');

/** A WebSocket as a fetch app's handlers see it (Bun's ServerWebSocket shape). */
export interface ServerWebSocket<T = unknown> {
  /** What ctx.upgrade() was given as `data`. */
  data: T;
  readonly remoteAddress: string;
  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState: number;
  /**
   * Sends a message (text for a string). Returns the byte length (at least 1) when the front had
   * reported no backpressure on this socket, -1 when it is queued behind a backlog (wait for
   * drain), 0 when it was dropped because the socket is closing or closed.
   */
  send(data: string | ArrayBufferLike | ArrayBufferView, compress?: boolean): number;
  sendText(data: string, compress?: boolean): number;
  sendBinary(data: ArrayBufferLike | ArrayBufferView, compress?: boolean): number;
  close(code?: number, reason?: string): void;
  /** Cuts the connection without a close frame. */
  terminate(): void;
  ping(data?: string | ArrayBufferLike | ArrayBufferView): number;
  subscribe(topic: string): void;
  unsubscribe(topic: string): void;
  isSubscribed(topic: string): boolean;
  readonly subscriptions: string[];
  /** To every other subscriber of `topic` on this mount (all fronts, all workers); works in close() too. */
  publish(topic: string, data: string | ArrayBufferLike | ArrayBufferView, compress?: boolean): number;
  /** Bytes sent and not yet written to the network, as far as the worker knows (see send()). */
  getBufferedAmount(): number;
  /** Runs `cb` (messages of one turn already leave together). */
  cork<R>(cb: (ws: ServerWebSocket<T>) => R): R;
}

/** `export default { fetch, websocket: { ... } }`: a fetch app's WebSocket handlers. */
export interface WebSocketHandlers<T = unknown> {
  open?(ws: ServerWebSocket<T>): unknown;
  /** Text arrives as a string, binary as a Buffer. */
  message?(ws: ServerWebSocket<T>, message: string | Buffer): unknown;
  close?(ws: ServerWebSocket<T>, code: number, reason: string): unknown;
  /** The backlog the front reported has drained: send more. */
  drain?(ws: ServerWebSocket<T>): unknown;
  pong?(ws: ServerWebSocket<T>, data: Buffer): unknown;
}

/** @internal One socket's events, for the node bridge (daemon/app/ws-bridge.ts). */
export interface WsConnectionHandler {
  open(socket: WsEndpoint): void;
  /**
   * A message from the client. A promise returned says when the app is done with it (the front
   * counts the message against websocket.maxPendingBytes until then); otherwise it is done on return.
   */
  message(data: Uint8Array, opcode: number): PromiseLike<unknown> | undefined;
  drain(): void;
  close(code: number, reason: string): void;
}

/** @internal What the node bridge sends through (daemon/worker/ws/connection.ts). */
export interface WsEndpoint {
  /** As ServerWebSocket.send; opcode WS_TEXT, WS_BINARY or WS_PING. */
  send(data: string | Uint8Array, opcode: number, compress: boolean): number;
  end(code: number, reason: string): void;
  terminate(): void;
  /** The front reported a backlog and it has not drained yet. */
  readonly pressured: boolean;
}

export type FetchHandler = (request: Request, env: Record<string, string>, ctx: AppContext) => Response | Promise<Response>;

export type AppInterface = 'fetch' | 'node' | 'auto';

export interface LoadedApp {
  fetch: FetchHandler;
  /** The interface actually in use after detection. */
  interface: 'fetch' | 'node';
  /** A fetch app's `websocket` handlers, when it exports them beside fetch. */
  websocket?: WebSocketHandlers;
  /** A node app's HTTP server (its 'upgrade' listeners take WebSockets: daemon/app/ws-bridge.ts). */
  server?: import('node:events').EventEmitter;
  /**
   * A node app's (req, res) listener: the worker runs it directly (daemon/worker/node-exchange.ts);
   * `fetch` wraps the same listener for callers that speak fetch (and for WebSocket upgrades).
   */
  node?: (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => unknown;
}

export interface LoadAppOptions {
  interface: AppInterface;
  /** Where compiled TypeScript/JSX goes; defaults to a temp dir. */
  cacheDir?: string;
  /** Lines for the error log about how the app was taken in (see listen-capture.ts). */
  notice?: (text: string) => void;
  /** Lines for the error log at warning level (a second, different server after the app was taken); defaults to notice. */
  warn?: (text: string) => void;
  /** The app's working directory (pool.cwd, else its app root): process.cwd() answers it from the start. */
  cwd?: string;
}

/**
 * What an app module exports (its default export) for the fetch interface: a handler, or an
 * object with `fetch` and optionally `websocket` handlers (Bun's shape). Node-style apps
 * (`(req, res)` listeners, Express, Koa, Fastify) are detected and need no hostd type.
 */
export type App<T = unknown> = FetchHandler | { fetch: FetchHandler; websocket?: WebSocketHandlers<T> };
