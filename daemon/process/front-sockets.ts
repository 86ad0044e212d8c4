// In a worker thread of a daemon process: the thread's own socket, on which each front connects
// once (shared/protocol/framing.ts). Each front's connection is this thread's data port for that
// front (FrontLink takes it as it takes a MessagePort in a thread pool): batches out are framed
// and written here, batches in are read and decoded here, on the thread that serves them; the
// process's main thread never touches them.
import { chmodSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { batchReader, batchWriter, PendingFrames, readFrames } from '../../shared/protocol/framing.js';
import { TO_FRONT, TO_WORKER } from '../../shared/protocol/table.js';

/** One front's connection to this thread, as the thread's data port for that front. */
export class FrontSocket {
  /** What the thread posts, waiting until this front connects. */
  private readonly out = new PendingFrames();
  private listener: ((batch: unknown[]) => void) | null = null;

  /** Takes the front's connection (its hello named this front). */
  connected(socket: Socket): void {
    this.out.attach(batchWriter(socket, TO_FRONT));
  }

  /** The front went away (hostd is ending): what follows has nowhere to go. */
  disconnected(): void {
    this.out.detach();
  }

  /** Written now (an address question is posted right before the thread blocks on its answer). */
  postMessage(batch: unknown): void {
    this.out.write(batch as unknown[]);
  }

  on(_event: 'message', listener: (batch: unknown[]) => void): this {
    this.listener = listener;
    return this;
  }

  /** @internal A batch from the front. */
  deliver(batch: unknown[]): void {
    this.listener?.(batch);
  }
}

/**
 * Listens at `path` for `fronts` fronts and resolves, once listening, to their ports. The folder
 * is the process's own (0700, its user's), so the socket's mode only repeats that.
 */
export function listenForFronts(path: string, fronts: number): Promise<FrontSocket[]> {
  const ports = Array.from({ length: fronts }, () => new FrontSocket());
  const server = createServer((socket) => {
    let port: FrontSocket | null = null;
    const reader = batchReader(
      TO_WORKER,
      (batch) => port?.deliver(batch),
      (front) => {
        port = ports[front] ?? null;
        if (port === null) socket.destroy();
        else port.connected(socket);
      },
    );
    readFrames(socket, reader, () => {}); // (a front does not send bad frames: nothing to tell)
    socket.on('error', () => {}); // the front went away: 'close' follows
    socket.on('close', () => port?.disconnected());
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      chmodSync(path, 0o600);
      resolve(ports);
    });
  });
}
