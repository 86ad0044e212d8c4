// Inside a daemon process: the relay between the fronts' sockets (one per front, shared/protocol/framing.ts) and
// the MessagePorts of the process's worker threads. A frame from front f for thread `key` goes to
// that thread's data port of front f; what a thread posts on its port f goes to front f's socket.
// The threads run daemon/worker/entry.ts: to them this is a front. Batches pass through as the
// bytes of their frames, encoded and decoded by the threads themselves (framed-port.ts).
import { createServer, type Server, type Socket } from 'node:net';
import type { MessagePort } from 'node:worker_threads';
import { answerAddress } from '../../shared/protocol/address-query.js';
import { ownBytes } from './framed-port.js';
import { ADDRESS_KEY, decodeBatch, FrameReader, FrameWriter, HELLO_KEY } from '../../shared/protocol/framing.js';

/** A thread's data ports (this process's ends) and, per front, where it waits for addresses. */
interface RelayedThread {
  ports: MessagePort[];
  addresses: SharedArrayBuffer[];
}

export class Relay {
  private readonly writers: Array<FrameWriter | null>;
  /** Batches for a front that has not connected yet (its hello), in order. */
  private readonly early: Array<Array<[number, Uint8Array]>>;
  private readonly threads = new Map<number, RelayedThread>();
  readonly server: Server;

  constructor(fronts: number) {
    this.writers = Array.from({ length: fronts }, () => null);
    this.early = Array.from({ length: fronts }, () => []);
    this.server = createServer((socket) => this.accept(socket));
  }

  private accept(socket: Socket): void {
    socket.setNoDelay?.(true);
    let front = -1;
    const reader = new FrameReader((key, payload) => {
      if (key === HELLO_KEY) {
        front = Number(decodeBatch(payload)[0]);
        if (!(front >= 0 && front < this.writers.length)) return socket.destroy();
        const w = new FrameWriter(socket);
        this.writers[front] = w;
        for (const [k, b] of this.early[front].splice(0)) w.writePayload(k, b);
        return;
      }
      if (key === ADDRESS_KEY) {
        const batch = decodeBatch(payload);
        const buf = this.threads.get(Number(batch[0]))?.addresses[front];
        if (buf !== undefined) answerAddress(buf, Number(batch[1]), String(batch[2]));
        return;
      }
      const port = this.threads.get(key)?.ports[front];
      if (port !== undefined) {
        const bytes = ownBytes(payload);
        port.postMessage(bytes, [bytes.buffer as ArrayBuffer]);
      }
    });
    socket.on('data', (chunk: Buffer) => reader.push(chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      if (front >= 0 && this.writers[front] !== null) this.writers[front] = null;
    });
  }

  /** Bridges thread `key`'s data ports (this process's ends, one per front) and address buffers. */
  addThread(key: number, ports: MessagePort[], addresses: SharedArrayBuffer[]): void {
    this.threads.set(key, { ports, addresses });
    ports.forEach((port, front) => {
      port.on('message', (payload: Uint8Array) => {
        const w = this.writers[front];
        if (w !== null) w.writePayload(key, payload);
        else this.early[front].push([key, payload]);
      });
    });
  }

  removeThread(key: number): void {
    const t = this.threads.get(key);
    this.threads.delete(key);
    if (t) for (const p of t.ports) p.close();
  }
}
