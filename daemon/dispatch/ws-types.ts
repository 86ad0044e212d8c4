// What a pool's dispatcher and its worker links know of WebSockets on a front, without knowing
// uWS (as Exchange is to requests): the front implements these in native-front/ws.
//
// A WebSocket starts as an upgrade request, dispatched like any request (same queue, same choice
// of worker). When the worker accepts it (wsAccept), the link hands the exchange to the pool's hub,
// which opens the socket; from then on the socket is pinned to that worker: it is in the link's
// `sockets` table under the request's id, and the worker's messages about it go straight to it.
import type { Exchange } from './types.js';
import type { WorkerLink } from './worker-link.js';

/** One open WebSocket on a front, as its worker link sees it. */
export interface WsSocket {
  /** A message to the client (text when `data` is a string or the opcode says so). */
  send(data: string | Uint8Array, flags: number): void;
  /** Close with a code and reason (WS_TERMINATE: cut without a close frame). */
  end(code: number, reason: string): void;
  subscribe(topic: string, on: boolean): void;
  /** The app has finished with this many bytes of the client's messages (wsMessageCost). */
  acked(bytes: number): void;
}

/** A pool's WebSocket side on one front (native-front/ws/pool.ts). */
export interface WsPoolHub {
  /** The worker accepted upgrade request `id` (already released from the link): open the socket. */
  accept(link: WorkerLink, id: number, ex: Exchange | undefined, headers: string[]): void;
  /** Publish to the mount's subscribers on this front; `from` (the sender, on this front) is left out. */
  publish(from: WsSocket | null, topic: string, data: string | Uint8Array, flags: number): void;
  /** The worker is gone: its sockets close with the code its fate calls for (1011 crash, 1012 restart). */
  detached(link: WorkerLink, reason: string): void;
}
