// A worker's board: a small SharedArrayBuffer the control thread, every front and the worker
// itself read and write without messages.
//
// - state (control writes, fronts read when picking a worker): starting, ready, retiring, dead;
// - inflight (fronts add and subtract): requests handed to this worker and not yet answered, over
//   all fronts, so a worker's `concurrency` holds whatever front the requests came through;
// - served (fronts add): requests handed to it, for maxRequests;
// - sockets (the worker adds and subtracts): WebSockets it has accepted and not yet seen close,
//   over all fronts; a worker holding sockets is not idle, and retires only once they close;
// - memory (the worker writes every few hundred ms): its isolate's heap plus external and
//   ArrayBuffer bytes, for memoryLimitMb (V8's heap limit alone does not see Buffers);
// - started[front] (the worker writes right before it hands a request to the app): the id of the
//   last request of that front it started. When a worker dies, requests above it were never seen
//   by the app and can be sent to another worker; exact even when the app never yields.

export const WORKER_STARTING = 0;
export const WORKER_READY = 1;
export const WORKER_RETIRING = 2;
export const WORKER_DEAD = 3;

// Layout, one 64-byte cache line per writer so that no two threads write the same line on every
// request (false sharing would bounce it between cores): line 0, the fronts' counters; line 1, the
// worker's memory figure; line 2 on, the worker's started watermarks.
const I_STATE = 0;
const I_INFLIGHT = 1;
const I_SERVED = 2;
const F_MEMORY = 8; // Float64 index (byte 64)
/** The worker's open WebSockets: Int32 in the worker's line, after the memory figure (byte 72). */
const I_SOCKETS = 18;
const F_STARTED = 16; // Float64 index of front 0's watermark (byte 128)

export function boardBytes(fronts: number): number {
  return 8 * (F_STARTED + fronts);
}

export class Board {
  private readonly ints: Int32Array;
  private readonly floats: Float64Array;

  constructor(readonly buffer: SharedArrayBuffer) {
    this.ints = new Int32Array(buffer);
    this.floats = new Float64Array(buffer);
  }

  get state(): number {
    return Atomics.load(this.ints, I_STATE);
  }
  set state(s: number) {
    Atomics.store(this.ints, I_STATE, s);
  }

  get inflight(): number {
    return Atomics.load(this.ints, I_INFLIGHT);
  }

  /** Takes one of the worker's `limit` request slots; false when it has none free. */
  claim(limit: number): boolean {
    if (Atomics.add(this.ints, I_INFLIGHT, 1) < limit) return true;
    Atomics.sub(this.ints, I_INFLIGHT, 1);
    return false;
  }

  release(): void {
    Atomics.sub(this.ints, I_INFLIGHT, 1);
  }

  /** Counts one more request handed over; returns the new total. */
  served(): number {
    return Atomics.add(this.ints, I_SERVED, 1) + 1;
  }

  /**
   * A daemon process's copy of the board learns the fronts' count from hostd with the retire order
   * (its fronts write hostd's board, in another process): the worker's drain waits for as many.
   */
  mirrorServed(n: number): void {
    Atomics.store(this.ints, I_SERVED, n);
  }

  get servedCount(): number {
    return Atomics.load(this.ints, I_SERVED);
  }

  /** WebSockets open on this worker (daemon/worker/ws). */
  get sockets(): number {
    return Atomics.load(this.ints, I_SOCKETS);
  }
  addSockets(n: number): void {
    Atomics.add(this.ints, I_SOCKETS, n);
  }

  get memory(): number {
    return this.floats[F_MEMORY];
  }
  set memory(bytes: number) {
    this.floats[F_MEMORY] = bytes;
  }

  started(front: number): number {
    return this.floats[F_STARTED + front];
  }
  setStarted(front: number, id: number): void {
    this.floats[F_STARTED + front] = id;
  }
}
