// What the pool dispatches (an Exchange, implemented by the front for each uWS request) and what
// it reports (PoolStats). The pool knows nothing of uWS; the front knows nothing of workers.
import type { WorkerSlot } from './slot.js';

export type RestartReason = 'maxRequests' | 'timeout' | 'oom' | 'exit' | 'error' | 'roll';

export interface PoolStats {
  /** Live workers (starting, serving or retiring). */
  threads: number;
  busy: number;
  idle: number;
  queued: number;
  inFlight: number;
  /** Requests handed to workers since the pool started. */
  requests: number;
  restarts: Record<RestartReason, number>;
}

/** One request as the pool sees it. The pool sets id/slot; the front implements the callbacks. */
export interface Exchange {
  id: number;
  slot: WorkerSlot | null;
  /** performance.now() at arrival: request and queue timeouts count from here. */
  readonly arrival: number;
  /** True once the front has answered the client (or it went away): the pool drops it. */
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
  resHead(status: number, headers: string[]): void;
  resBody(chunk: Uint8Array): void;
  resEnd(): void;
  resFull(status: number, headers: string[], body: string | Uint8Array | null): void;
  /** The worker reported a failure (app exception, bad request). Detail goes to the log only. */
  resError(status: number, detail: string): void;
  uploadCredit(bytes: number): void;
  /** The pool gave up on it (queue full/timeout 503, request timeout 504, worker died 502). */
  fail(status: number, reason: string): void;
}
