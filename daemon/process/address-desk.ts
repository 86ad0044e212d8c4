// Inside a daemon process, on its main thread: where the fronts answer the worker threads'
// address questions (shared/protocol/address-query.ts). A thread that asks blocks until the answer
// is in its buffer, so it cannot read the answer off its own socket; the fronts send it here
// instead (TO_DESK), and this thread writes it where the asker waits, as a front of a thread pool
// writes it itself. Requests and responses never pass here: they go between each front and each
// thread's own socket (front-sockets.ts).
import { createServer, type Server } from 'node:net';
import { answerAddress } from '../../shared/protocol/address-query.js';
import { batchReader, readFrames, TO_DESK } from '../../shared/protocol/framing.js';
import { decoderFor } from '../../shared/protocol/codec.js';

const decodeToDesk = decoderFor(TO_DESK);

export class AddressDesk {
  /** Per thread key, per front: where that thread waits for that front's answers. */
  private readonly threads = new Map<number, SharedArrayBuffer[]>();
  readonly server: Server;

  constructor() {
    this.server = createServer((socket) => {
      let front = -1;
      const handlers = {
        address: (key: number, seq: number, address: string) => {
          const buf = this.threads.get(key)?.[front];
          if (buf !== undefined) answerAddress(buf, seq, address);
        },
      };
      const reader = batchReader(
        TO_DESK,
        (batch) => decodeToDesk(batch, handlers),
        (f) => (front = f),
      );
      readFrames(socket, reader, () => {});
      socket.on('error', () => {});
    });
  }

  addThread(key: number, addresses: SharedArrayBuffer[]): void {
    this.threads.set(key, addresses);
  }

  removeThread(key: number): void {
    this.threads.delete(key);
  }
}
