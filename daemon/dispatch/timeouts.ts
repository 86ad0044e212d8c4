// The dispatcher's clock, run every SWEEP_MS: requests over requestTimeout get 504 (and their
// worker a ping: one that does not answer is stuck in a busy loop and gets terminated), queued
// ones over queueTimeout get 503. Scanning what is live rather than keeping a timeline of every
// request: in-flight is bounded by threads × concurrency and the queue by queueSize.
import type { Dispatcher } from './dispatcher.js';
import type { Exchange } from './types.js';
import type { WorkerLink } from './worker-link.js';

/**
 * How long a worker has to answer a ping after one of its requests timed out: a quarter of the
 * request timeout, within [250 ms, 1 s]. Short enough that requests queued behind a stuck worker
 * are re-dispatched before their own deadline.
 */
export function stuckGraceMs(requestTimeoutMs: number): number {
  return Math.min(1000, Math.max(250, requestTimeoutMs / 4));
}

function timeout(d: Dispatcher, link: WorkerLink | null, ex: Exchange, now: number): void {
  if (link !== null && link.release(ex.id) !== undefined && !link.gone) {
    link.out.abort(ex.id);
    // Is its event loop alive? A busy loop will not answer, and gets terminated.
    if (link.pingSentAt === 0) {
      link.pingSentAt = now;
      link.out.ping(++link.pingSeq);
    }
  }
  ex.fail(504, `request timed out after ${d.cfg.requestTimeoutMs} ms`);
}

export function sweep(d: Dispatcher, now: number): void {
  const rt = d.cfg.requestTimeoutMs;
  if (rt > 0) {
    for (const link of d.links) {
      if (link.inflight.size === 0) continue;
      for (const ex of link.inflight.values()) {
        if (now - ex.arrival < rt) continue;
        // A finished one still attached is a response the front completed while the app kept
        // streaming (more than its Content-Length): just stop the app.
        if (ex.finished) d.abort(ex);
        else timeout(d, link, ex, now);
      }
    }
    d.queue.forEach((ex) => {
      if (!ex.finished && now - ex.arrival >= rt) timeout(d, null, ex, now);
    });
  }
  const grace = stuckGraceMs(rt);
  for (const link of d.links) {
    if (link.pingSentAt !== 0 && now - link.pingSentAt > grace)
      d.terminate(link, 'daemon worker unresponsive after a request timeout: terminating it');
  }
  d.pump(); // drops expired and finished entries from the queue head
}
