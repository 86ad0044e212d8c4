// How the socket.io adapters of one pool's workers reach each other: a BroadcastChannel per
// (pool, socket.io path, namespace). A BroadcastChannel reaches every thread of the process that
// opened one of the same name, so a rolled pool's old workers (still draining) and its new ones
// share it for the whole reload, whichever front carries their clients. Messages are copied with
// the structured clone algorithm (Buffers arrive as Uint8Array, which socket.io sends as binary).
//
// A worker that ends (drained after a roll, recycled, killed) cannot say so itself: a terminated
// thread runs no more code. So the pool, which sees every worker end, announces it on one
// process-wide channel (announceGone), and the adapters forget it at once rather than after their
// heartbeat timeout (fetchSockets would otherwise wait for an answer that never comes).
//
// The transport is this small interface so that process pools (issue 20) can carry the same
// messages over their own channel.
import { BroadcastChannel, threadId } from 'node:worker_threads';

/** One named channel of a transport. */
export interface AdapterChannel {
  /** Sends `body` to every other member that opened this name (never back to this one). */
  publish(body: unknown): void;
  close(): void;
}

export interface AdapterTransport {
  /** This member's id, unique in the process for its life (a thread id; a pid for process pools). */
  readonly member: string;
  /** Opens `name`; `receive` gets each body another member publishes, and who it came from. */
  open(name: string, receive: (body: unknown, from: string) => void): AdapterChannel;
  /** `cb(member)` once a member has ended; returns what stops the calls. */
  onGone(cb: (member: string) => void): () => void;
}

const GONE = 'hostd:socket.io:gone';

interface Envelope {
  from: string;
  body: unknown;
}

let goneOut: BroadcastChannel | null = null;

/** The pool's side: the worker thread `id` has ended (daemon/pool/worker-set.ts). */
export function announceGone(id: number): void {
  if (goneOut === null) {
    goneOut = new BroadcastChannel(GONE);
    goneOut.unref();
  }
  goneOut.postMessage(String(id));
}

/** The worker threads' transport (one per worker: the members are threads). */
export class ThreadTransport implements AdapterTransport {
  readonly member = String(threadId);
  private readonly gone = new Set<string>();
  private readonly goneWatchers = new Set<(member: string) => void>();
  private goneIn: BroadcastChannel | null = null;

  open(name: string, receive: (body: unknown, from: string) => void): AdapterChannel {
    this.watchGone();
    const bc = new BroadcastChannel(name);
    bc.unref(); // the worker lives as long as its pool wants it, not as long as a channel is open
    let open = true;
    bc.onmessage = (event) => {
      const { from, body } = (event as { data: Envelope }).data;
      // A message a thread sent as it was being terminated must not bring it back to life.
      if (!this.gone.has(from)) receive(body, from);
    };
    return {
      publish: (body) => {
        if (open) bc.postMessage({ from: this.member, body } satisfies Envelope);
      },
      close: () => {
        open = false;
        bc.close();
      },
    };
  }

  onGone(cb: (member: string) => void): () => void {
    this.watchGone();
    this.goneWatchers.add(cb);
    return () => this.goneWatchers.delete(cb);
  }

  private watchGone(): void {
    if (this.goneIn !== null) return;
    this.goneIn = new BroadcastChannel(GONE);
    this.goneIn.unref();
    this.goneIn.onmessage = (event) => {
      const member = (event as { data: string }).data;
      this.gone.add(member); // thread ids are never reused in a process: a few numbers for its life
      for (const cb of this.goneWatchers) cb(member);
    };
  }
}
