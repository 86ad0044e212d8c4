// A front's side of a thread of a daemon process: one Unix socket from this front thread to that
// worker thread, which listens on it itself (daemon/process/front-sockets.ts), carrying the
// batches of the same tables as a thread pool's MessagePorts (shared/protocol/framing.ts). The
// thread appears to the front's dispatcher as a port (postMessage / on('message') / close), so
// daemon/dispatch drives it exactly as a worker thread.
//
// Backpressure: the protocol's credit windows (RESPONSE_WINDOW, UPLOAD_WINDOW) bound the bytes in
// flight per request in both directions, so what the socket buffers while the kernel is full is
// bounded by them; nothing here reads faster than the front consumes.
import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import { batchReader, batchWriter, PendingFrames, readFrames, TO_DESK, type FrameWriter } from '../../shared/protocol/framing.js';
import { TO_FRONT, TO_WORKER } from '../../shared/protocol/table.js';

/** Where the fronts reach a thread of a daemon process. */
export interface ThreadSockets {
  /** The thread's own socket: its requests and responses. */
  thread: string;
  /** Its process's socket: answers to the thread's address questions (address-desk.ts). */
  desk: string;
}

/** A thread of a daemon process, as a front attaches to it (WorkerAttach.remote). */
export interface RemoteThread extends ThreadSockets {
  /** The index of the front attaching (its hello on the sockets). */
  front: number;
}

/** A connection refused because the thread does not listen yet is tried again this often. */
const RETRY_MS = 20;

/** One thread of a daemon process, as a port of the front's WorkerLink ('message', and 'error' for a bad frame). */
export class RemotePort extends EventEmitter {
  private socket: Socket | null = null;
  /** Batches posted before the connection is up wait here, in order. */
  private readonly out = new PendingFrames();
  private closed = false;

  constructor(
    private readonly r: RemoteThread,
    readonly key: number,
  ) {
    super();
    this.connect();
  }

  postMessage(batch: unknown): void {
    this.out.write(batch as unknown[]);
  }

  /** Answers the thread's address question `seq` (its process's desk writes it where the thread waits). */
  answerAddress(seq: number, address: string): void {
    deskOf(this.r).write([TO_DESK.address.tag, this.key, seq, address]);
  }

  /** The connection is unref'd: an idle pool does not keep hostd alive. */
  unref(): void {}

  close(): void {
    this.closed = true;
    this.out.clear();
    this.socket?.end();
  }

  // Connected at attach, before the thread may listen (it does before it loads the app): a refused
  // attempt is retried. Every front connects, even one that never sends the thread a request:
  // the thread's `drained` at a retire must reach each front.
  private connect(): void {
    const socket = connect(this.r.thread);
    this.socket = socket;
    socket.unref();
    const reader = batchReader(TO_FRONT, (batch) => this.emit('message', batch));
    socket.on('connect', () => {
      const writer = batchWriter(socket, TO_WORKER);
      writer.hello(this.r.front);
      this.out.attach(writer);
    });
    // A malformed frame cuts the connection and is reported ('error': the dispatcher has the
    // thread terminated).
    readFrames(socket, reader, (err) => this.emit('error', err));
    // The daemon process went away: the control thread hears it over IPC and detaches its
    // threads (their requests get 502); here the socket is only forgotten.
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (!this.out.up && !this.closed && (err.code === 'ENOENT' || err.code === 'ECONNREFUSED')) {
        this.socket = null;
        setTimeout(() => this.closed || this.connect(), RETRY_MS).unref();
      }
    });
  }
}

/** This front thread's connections to the daemon processes' desks, by socket path. */
const desks = new Map<string, FrameWriter>();

function deskOf(r: RemoteThread): FrameWriter {
  let w = desks.get(r.desk);
  if (w === undefined) {
    const socket = connect(r.desk);
    socket.unref();
    socket.on('error', () => {});
    socket.on('close', () => desks.delete(r.desk));
    w = batchWriter(socket, TO_DESK);
    w.hello(r.front);
    desks.set(r.desk, w);
  }
  return w;
}
