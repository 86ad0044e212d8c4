// Inside a daemon process, a worker thread's data port as its FrontLink sees it: batches are
// serialized to bytes (v8.serialize, the frame payload of shared/protocol/framing.ts) in the worker thread itself
// and cross to the relay as one transferred buffer, so the relay only adds a header and writes
// them (and hands the fronts' payloads on unopened). The relay's thread would otherwise decode,
// clone and re-encode every batch: one copy each way instead of three.
import { deserialize, serialize } from 'node:v8';
import type { MessagePort } from 'node:worker_threads';

/** The bytes of `payload` in a buffer of their own, ready to transfer (a copy unless they are). */
export function ownBytes(payload: Uint8Array): Uint8Array {
  // (new Uint8Array(view) copies; Buffer's slice() would not)
  return payload.byteOffset === 0 && payload.byteLength === payload.buffer.byteLength ? payload : new Uint8Array(payload);
}

export class FramedPort {
  constructor(private readonly port: MessagePort) {}

  postMessage(batch: unknown): void {
    const bytes = ownBytes(serialize(batch));
    this.port.postMessage(bytes, [bytes.buffer as ArrayBuffer]);
  }

  on(_event: 'message', listener: (batch: unknown[]) => void): this {
    this.port.on('message', (bytes: Uint8Array) => listener(deserialize(bytes) as unknown[]));
    return this;
  }
}
