// What the front's router hands a request to. A static mount and an app mount both implement it.
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import type { ResolvedMount, ResolvedVhost } from '../../shared/config/types.js';
import type { CacheStats } from '../cache/index.js';

/**
 * Per-request state the front creates before calling a mount. `req` is valid only during the
 * synchronous call to `handle`; everything needed later must be copied out of it first.
 */
export interface RequestContext {
  readonly vhost: ResolvedVhost;
  readonly mount: ResolvedMount;
  /** Lowercase method ("get", "head", ...) as uWS reports it. */
  readonly method: string;
  /** The raw (still percent-encoded) path, without the query string. */
  readonly url: string;
  /** The raw query string without "?", or "". */
  readonly query: string;
  /** The Host header as sent (validated: a host name or address, with an optional port), or "". */
  readonly host: string;
  /** True when the request came over TLS (or a trusted proxy said https). */
  readonly secure: boolean;
  readonly requestId: string;
  /** Client address after trusted-proxy resolution; read on first use (it costs a syscall). */
  readonly remoteAddress: string;
  /** The client address if it has been read already, else null. */
  readonly knownRemoteAddress: string | null;
  /** performance.now() at arrival. */
  readonly start: number;
  /** The front is draining: answer with Connection: close so the client goes elsewhere. */
  readonly closeConnection: boolean;
  /**
   * Call exactly once when the response is complete (or aborted: status 499 by nginx's
   * convention). Feeds the access log and metrics.
   */
  done(status: number, bytes: number): void;
}

export interface MountHandler {
  /** Called synchronously inside the uWS route handler. Must register res.onAborted before any async step. */
  handle(res: HttpResponse, req: HttpRequest, ctx: RequestContext): void;
  /** Stop taking requests, finish what is in flight (up to the deadline), free resources. */
  close(deadlineMs?: number): Promise<void>;
  /** Past the drain deadline: cut what is still being answered. */
  cut?(): void;
  /** A reload rolled the app behind this unchanged mount: drop what depends on its old code (cached answers). */
  reloaded?(): void;
  /** Drops cached answers: of one URL, or of every URL under a prefix; of one host or all. Returns how many. */
  purge?(what: { url?: string; prefix?: string; host?: string }): number;
  /** The mount's response cache counters, when it has one. */
  cacheStats?(): CacheStats | null;
}
