// The wire protocol between a front and a daemon worker, and between the control thread and a
// worker: one table per direction, every message a tag and its fields in order. Encoders,
// decoders and their TypeScript types are all derived from these tables (codec.ts), so adding a
// field is one edit here and every call site that does not follow fails to compile.
//
// Data ports (one per front per worker) carry requests and responses; the worker's control port
// carries its lifecycle and its log lines. Ids are per data port, increasing: a worker sees the
// ids a front assigns it in increasing order, which is what makes the `started` watermark exact.

/** The field types a message may carry, and the TypeScript type each stands for. */
export interface FieldTypes {
  num: number;
  bool: boolean;
  str: string;
  /** A string, or null when absent. */
  strOrNull: string | null;
  /** A flat [name, value, name, value, ...] header list. */
  headers: string[];
  /** An ArrayBuffer the sender gives up (it goes in the transfer list). */
  buffer: ArrayBuffer;
  /** Bytes, cloned or (when the sender owns the whole buffer) transferred. */
  bytes: Uint8Array;
  /** A whole response body: text, bytes, or none. */
  body: string | Uint8Array | null;
}

export type Field = readonly [name: string, type: keyof FieldTypes];
export interface MessageSpec {
  readonly tag: number;
  readonly fields: readonly Field[];
}
export type Table = Readonly<Record<string, MessageSpec>>;

export const msg = <const F extends readonly Field[]>(tag: number, ...fields: F) => ({ tag, fields });

/** Front → worker, on a data port. */
export const TO_WORKER = {
  /** A request. `address` is null until the pool's app has asked for one (address-query.ts). */
  reqHead: msg(
    1,
    ['id', 'num'],
    ['method', 'str'],
    ['url', 'str'],
    ['headers', 'headers'],
    ['address', 'strOrNull'],
    ['requestId', 'str'],
    ['hasBody', 'bool'],
  ),
  reqBody: msg(2, ['id', 'num'], ['chunk', 'buffer']),
  /** The request body is complete. */
  reqEnd: msg(3, ['id', 'num']),
  /** The client went away (or the front gave up on it): request.signal aborts. */
  abort: msg(4, ['id', 'num']),
  /** The front wrote this many response bytes to the socket (response backpressure). */
  resCredit: msg(5, ['id', 'num'], ['bytes', 'num']),
  /** Liveness probe, answered with pong from the worker's event loop. */
  ping: msg(6, ['seq', 'num']),
  /** A resFull body buffer the front is done with, for reuse. */
  bufReturn: msg(7, ['buffer', 'buffer']),
  // ---- WebSockets (shared/protocol/ws.ts; ids are those of the upgrade requests) ----
  /** The socket the worker accepted is open: the app's open() runs. */
  wsOpen: msg(50, ['id', 'num']),
  /** A whole message from the client (opcode: WS_TEXT, WS_BINARY, or WS_PONG for a pong). */
  wsMessage: msg(51, ['id', 'num'], ['data', 'bytes'], ['opcode', 'num']),
  /**
   * How far the socket is behind: its backlog in uWS, the bytes the front has written for it so
   * far (sent by the worker, taken by uWS), and whether it is pressured (a backlog appeared and
   * has not drained below WS_LOW_WATER). Sent when that changes, and every WS_ACK_BYTES written.
   */
  wsBuffered: msg(52, ['id', 'num'], ['backlog', 'num'], ['written', 'num'], ['pressured', 'bool']),
  /** The socket closed (either side, or the front for a limit); nothing more comes for this id. */
  wsClosed: msg(53, ['id', 'num'], ['code', 'num'], ['reason', 'str']),
} as const satisfies Table;

/**
 * Worker → front, on a data port. A response head travels as one preformatted block (see
 * daemon/worker/response-parts.ts responseHead): the first header's name, and its value followed
 * by every other header line, so the front writes all of them with one uWS call; Content-Length
 * (-1: none) apart, because uWS writes it itself.
 */
export const TO_FRONT = {
  /** Status and headers of a streamed response. */
  resHead: msg(10, ['id', 'num'], ['status', 'num'], ['headName', 'str'], ['headRest', 'str'], ['contentLength', 'num']),
  resBody: msg(11, ['id', 'num'], ['chunk', 'bytes']),
  resEnd: msg(12, ['id', 'num']),
  /** Head, whole body and end in one message. */
  resFull: msg(13, ['id', 'num'], ['status', 'num'], ['headName', 'str'], ['headRest', 'str'], ['contentLength', 'num'], ['body', 'body']),
  /** The request failed in the worker: the status applies if no head was sent; detail is for the log. */
  resError: msg(14, ['id', 'num'], ['status', 'num'], ['detail', 'str']),
  /** The app consumed this many request-body bytes (upload backpressure). */
  reqCredit: msg(15, ['id', 'num'], ['bytes', 'num']),
  pong: msg(16, ['seq', 'num']),
  /** The app asked for the client address of a request sent without it (address-query.ts). */
  addrQuery: msg(17, ['id', 'num'], ['seq', 'num']),
  /**
   * The worker retired and answered everything: nothing more comes on this port. Sent on every
   * data port after the last response, so a front has every answer before it lets go of the worker.
   */
  drained: msg(18),
  // ---- WebSockets (shared/protocol/ws.ts) ----
  /** Upgrade request `id` is accepted: the front answers 101 with these extra headers and opens the socket. */
  wsAccept: msg(60, ['id', 'num'], ['headers', 'headers']),
  /** A message to the client: text (string) or bytes; flags: opcode | WS_NO_COMPRESS. */
  wsSend: msg(61, ['id', 'num'], ['data', 'body'], ['flags', 'num']),
  /** Close with `code` and `reason`; code WS_TERMINATE cuts the connection without a close frame. */
  wsEnd: msg(62, ['id', 'num'], ['code', 'num'], ['reason', 'str']),
  /** Subscribe (on) or unsubscribe the socket to a topic of its mount. */
  wsSubscribe: msg(63, ['id', 'num'], ['topic', 'str'], ['on', 'bool']),
  /** Publish to every subscriber of the mount's topic on this front; `id` (0: none) is left out. */
  wsPublish: msg(64, ['id', 'num'], ['topic', 'str'], ['data', 'body'], ['flags', 'num']),
  /** Requests carrying this session key (engine.io sid, pool.sticky) belong on this worker. */
  stickyClaim: msg(65, ['key', 'str']),
  /**
   * The app has finished with messages of socket `id` costing this many bytes (wsMessageCost):
   * the front counts them off the socket's unhandled bytes (websocket.maxPendingBytes).
   * Summed per socket and sent once per batch.
   */
  wsAck: msg(66, ['id', 'num'], ['bytes', 'num']),
} as const satisfies Table;

/** Control thread → worker, on its control port. */
export const TO_WORKER_CONTROL = {
  /** Finish what is in flight on every data port, await waitUntil promises, then say drained on each. */
  retire: msg(30),
  /** Sent before retire: close the worker's WebSockets with `code`, now (afterMs 0) or after afterMs. */
  wsRetire: msg(70, ['code', 'num'], ['afterMs', 'num']),
} as const satisfies Table;

/** Worker → control thread, on its control port. */
export const TO_CONTROL = {
  /** The app loaded (loadError "") or did not. */
  ready: msg(40, ['threadId', 'num'], ['loadError', 'str']),
  /** A line for the error log; requestId "" when unknown. */
  log: msg(41, ['level', 'num'], ['text', 'str'], ['requestId', 'str']),
} as const satisfies Table;

export const LOG_INFO = 0;
export const LOG_WARN = 1;
export const LOG_ERROR = 2;
