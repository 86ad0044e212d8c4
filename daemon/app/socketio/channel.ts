// How the socket.io adapters of one pool's workers reach each other: one BroadcastChannel per
// pool (poolChannelName), on which each message names the adapter channel it is for (socket.io
// path and namespace). A BroadcastChannel reaches every thread of the process that opened one of
// the same name, so a rolled pool's old workers (still draining) and its new ones share it for the
// whole reload, whichever front carries their clients. Messages are copied with the structured
// clone algorithm (Buffers arrive as Uint8Array, which socket.io sends as binary).
//
// A BroadcastChannel does not cross processes: in a process pool (pool.isolation: process) the
// main thread of each daemon process joins its pool's channel and bridges it to hostd over IPC,
// which relays it to the pool's other daemon processes (daemon/process/socketio-bridge.ts), so
// the members are the same whichever process they live in. One channel per pool, not per
// namespace, is what lets that main thread join it without knowing the app's namespaces.
//
// A worker that ends (drained after a roll, recycled, killed, its process killed) cannot say so
// itself: a terminated thread runs no more code. So the pool, which sees every worker end,
// announces it on the pool's channel (announceGone; for a process pool through the bridge), and
// the adapters forget it at once rather than after their heartbeat timeout (fetchSockets would
// otherwise wait for an answer that never comes).
//
// Members are named by their pool worker key (ServeTask.key), unique in the pool for its life
// across processes and rolls: thread ids are per process (two daemon processes both have a
// thread 1), and a pid can come back.
import { BroadcastChannel } from 'node:worker_threads';

/** One named channel of a transport. */
export interface AdapterChannel {
  /** Sends `body` to every other member that opened this name (never back to this one). */
  publish(body: unknown): void;
  close(): void;
}

export interface AdapterTransport {
  /** This member's id, unique in the pool for its life. */
  readonly member: string;
  /** Opens `name`; `receive` gets each body another member publishes, and who it came from. */
  open(name: string, receive: (body: unknown, from: string) => void): AdapterChannel;
  /** `cb(member)` once a member has ended; returns what stops the calls. */
  onGone(cb: (member: string) => void): () => void;
}

/** What travels on a pool's channel: a member's message for adapter channel `name`, or the pool's word that a member has ended. */
export type PoolMessage = { name: string; from: string; body: unknown } | { gone: string };

/** The BroadcastChannel of pool `group` (WorkerSet.group: the same across rolls). */
export const poolChannelName = (group: string): string => `hostd:socket.io:${group}`;

/** The pool's notice that `member` (a pool worker key) has ended. */
export const goneNotice = (member: string): PoolMessage => ({ gone: member });

/** The pool's side, for a thread pool (daemon/pool/worker-set.ts): the worker `member` of pool `group` has ended. */
export function announceGone(group: string, member: string): void {
  const bc = new BroadcastChannel(poolChannelName(group));
  bc.postMessage(goneNotice(member)); // (delivered even though the channel closes right after)
  bc.close();
}

type Receive = (body: unknown, from: string) => void;

/** A worker thread's transport: the members are the pool's worker threads, in this process or (bridged) others. */
export class ThreadTransport implements AdapterTransport {
  /**
   * The receivers of each adapter channel. Two adapters of one name in one thread (two socket.io
   * servers on one path) do not hear each other, as under `node app.js`.
   */
  private readonly receivers = new Map<string, Set<Receive>>();
  private readonly gone = new Set<string>();
  private readonly goneWatchers = new Set<(member: string) => void>();
  private bc: BroadcastChannel | null = null;

  constructor(
    private readonly group: string,
    readonly member: string,
  ) {}

  open(name: string, receive: Receive): AdapterChannel {
    const bc = this.join();
    let set = this.receivers.get(name);
    if (set === undefined) this.receivers.set(name, (set = new Set()));
    set.add(receive);
    let open = true;
    return {
      publish: (body) => {
        if (open) bc.postMessage({ name, from: this.member, body } satisfies PoolMessage);
      },
      close: () => {
        if (!open) return;
        open = false;
        set.delete(receive);
        if (set.size === 0) this.receivers.delete(name);
        this.leaveIfUnused();
      },
    };
  }

  onGone(cb: (member: string) => void): () => void {
    this.join();
    this.goneWatchers.add(cb);
    return () => {
      this.goneWatchers.delete(cb);
      this.leaveIfUnused();
    };
  }

  private join(): BroadcastChannel {
    if (this.bc !== null) return this.bc;
    const bc = new BroadcastChannel(poolChannelName(this.group));
    bc.unref(); // the worker lives as long as its pool wants it, not as long as a channel is open
    bc.onmessage = (event) => {
      const m = (event as { data: PoolMessage }).data;
      if ('gone' in m) {
        this.gone.add(m.gone); // keys are never reused in a pool: a few strings for the worker's life
        for (const cb of this.goneWatchers) cb(m.gone);
        return;
      }
      // A message a thread sent as it was being terminated must not bring it back to life.
      if (this.gone.has(m.from)) return;
      const set = this.receivers.get(m.name);
      if (set !== undefined) for (const receive of set) receive(m.body, m.from);
    };
    this.bc = bc;
    return bc;
  }

  /** The app replaced hostd's adapter everywhere (io.adapter(x)): this worker leaves the pool's channel. */
  private leaveIfUnused(): void {
    if (this.bc === null || this.receivers.size > 0 || this.goneWatchers.size > 0) return;
    this.bc.close();
    this.bc = null;
  }
}
