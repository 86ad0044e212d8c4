// What a pool's dispatcher (on a front thread) works with: the Exchange the front implements for
// each request, and what the control thread tells it about workers. The dispatcher knows nothing
// of uWS; the front knows nothing of workers (it holds an opaque Ticket while one serves it).
import type { MessagePort } from 'node:worker_threads';
import type { RemoteThread } from './process-socket.js';

/** Opaque to the front: which worker (and link) is serving an exchange. */
export interface Ticket {
  readonly __ticket: never;
}

/** One request as a dispatcher sees it. The dispatcher sets id/ticket; the front implements the rest. */
export interface Exchange {
  id: number;
  ticket: Ticket | null;
  /** performance.now() at arrival: request and queue timeouts count from here. */
  readonly arrival: number;
  /** True once the front has answered the client (or it went away): the dispatcher drops it. */
  readonly finished: boolean;
  /** True once any request-body bytes went to a worker: then it can no longer be re-dispatched. */
  readonly bodySent: boolean;
  readonly method: string;
  readonly url: string;
  readonly headers: string[];
  /** The client address; reading it may cost the front a syscall (see address-query.ts). */
  readonly remoteAddress: string;
  /** The client address if the front already has it, else null. */
  readonly knownRemoteAddress: string | null;
  readonly requestId: string;
  readonly hasBody: boolean;

  /** Assigned to a worker (again, after a re-dispatch): send any body buffered so far. */
  dispatched(): void;
  /** The head of a streamed response: status, the header block (first name, rest), Content-Length or -1. */
  resHead(status: number, headName: string, headRest: string, contentLength: number): void;
  resBody(chunk: Uint8Array): void;
  resEnd(): void;
  /** A whole response in one go: head as in resHead, and the body. */
  resFull(status: number, headName: string, headRest: string, contentLength: number, body: string | Uint8Array | null): void;
  /** The worker reported a failure (app exception, bad request). Detail goes to the log only. */
  resError(status: number, detail: string): void;
  uploadCredit(bytes: number): void;
  /** The dispatcher gave up on it (queue full/timeout 503, request timeout 504, worker died 502). */
  fail(status: number, reason: string): void;
}

/** A worker as one front gets to know it (control → front, with its data port transferred). */
export interface WorkerAttach {
  /** Unique within the pool for the pool's life. */
  key: number;
  /** The data port of a worker thread; null for a thread of a daemon process (then `remote`). */
  port: MessagePort | null;
  /** pool.isolation: process: where this front reaches the thread (daemon/dispatch/process-socket.ts). */
  remote?: RemoteThread;
  /** The worker's board (shared/protocol/board.ts). */
  board: SharedArrayBuffer;
  /** Where this front answers the worker's address questions. */
  address: SharedArrayBuffer;
  /** Requests after which the worker is recycled (maxRequests + jitter); 0 = never. */
  limit: number;
}

/** What a dispatcher asks of the control thread. */
export interface PoolReporter {
  /** The worker reached its request limit: retire it (once per worker, from the front that saw it). */
  retire(key: number): void;
  /** The worker did not answer a ping after a request timed out: terminate it. */
  kill(key: number): void;
  /** This front freed a worker slot while other fronts have requests queued. */
  pumpOthers(): void;
  /** The retired worker has answered everything this front sent it. */
  drained(key: number): void;
}

/** One front's view of a pool, summed over fronts for /status and /metrics. */
export interface DispatchStats {
  queued: number;
  inFlight: number;
  /** Workers with at least one of this front's requests. */
  busyWorkers: number[];
  requests: number;
}
