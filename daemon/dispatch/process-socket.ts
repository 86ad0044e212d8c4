// A front's side of a daemon process: one Unix socket per front per daemon process, owned by the
// front's thread, carrying the batches of every worker thread of that process (shared/protocol/framing.ts). Each
// thread appears to the front's dispatcher as a port (DataPort: postMessage / on('message') /
// close), so daemon/dispatch drives a thread of a daemon process exactly as a worker thread.
//
// Backpressure: the protocol's credit windows (RESPONSE_WINDOW, UPLOAD_WINDOW) bound the bytes in
// flight per request in both directions, so what the socket buffers while the kernel is full is
// bounded by them; nothing here reads faster than the front consumes.
import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import { ADDRESS_KEY, decodeBatch, FrameReader, FrameWriter, HELLO_KEY } from '../../shared/protocol/framing.js';

/** Where a front finds a thread of a daemon process (WorkerAttach.remote). */
export interface RemoteThread {
  /** The daemon process's socket. */
  socket: string;
  /** The index of the front attaching (its hello on the socket). */
  front: number;
}

/** One thread of a daemon process, as a port of the front's WorkerLink. */
export class RemotePort extends EventEmitter {
  constructor(
    private readonly conn: DaemonConnection,
    readonly key: number,
  ) {
    super();
  }

  postMessage(batch: unknown): void {
    this.conn.send(this.key, batch as unknown[]);
  }

  /** Answers the thread's address question `seq` (its relay writes it into the thread's buffer). */
  answerAddress(seq: number, address: string): void {
    this.conn.send(ADDRESS_KEY, [this.key, seq, address]);
  }

  /** The connection's socket is unref'd: an idle pool does not keep hostd alive. */
  unref(): void {}

  close(): void {
    this.conn.drop(this.key);
  }
}

/** This front thread's socket to one daemon process. */
class DaemonConnection {
  private readonly socket: Socket;
  private readonly writer: FrameWriter;
  readonly ports = new Map<number, RemotePort>();

  constructor(
    private readonly path: string,
    front: number,
  ) {
    this.socket = connect(path);
    this.socket.setNoDelay?.(true);
    this.writer = new FrameWriter(this.socket);
    const reader = new FrameReader((key, payload) => this.ports.get(key)?.emit('message', decodeBatch(payload)));
    this.socket.on('data', (chunk: Buffer) => reader.push(chunk));
    // The daemon process went away: the control thread hears it over IPC and detaches its
    // threads (their requests get 502); here the socket is only forgotten.
    this.socket.on('error', () => {});
    this.socket.on('close', () => {
      if (connections.get(path) === this) connections.delete(path);
    });
    this.socket.unref();
    this.writer.write(HELLO_KEY, [front]);
  }

  send(key: number, batch: unknown[]): void {
    if (!this.socket.destroyed) this.writer.write(key, batch);
  }

  drop(key: number): void {
    this.ports.delete(key);
    if (this.ports.size === 0) {
      if (connections.get(this.path) === this) connections.delete(this.path);
      this.socket.end();
    }
  }
}

/** This thread's connections, by socket path. */
const connections = new Map<string, DaemonConnection>();

/** The port to thread `key` of the daemon process at `r.socket` (connecting on first use). */
export function remotePort(r: RemoteThread, key: number): RemotePort {
  let conn = connections.get(r.socket);
  if (conn === undefined) {
    conn = new DaemonConnection(r.socket, r.front);
    connections.set(r.socket, conn);
  }
  const port = new RemotePort(conn, key);
  conn.ports.set(key, port);
  return port;
}
