// Message data as a worker hands it to the front: strings as they are (structured clone copies a
// string cheaply and uWS encodes it), bytes as a Uint8Array the port may clone or move.
import { Buffer } from 'node:buffer';

export type WsData = string | ArrayBufferLike | ArrayBufferView;

/** Bytes of `data` as sent on the wire (UTF-8 for strings). */
export function wsByteLength(data: string | Uint8Array): number {
  return typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
}

/** A view of the caller's bytes (no copy yet). */
export function asBytes(data: ArrayBufferLike | ArrayBufferView): Uint8Array {
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer || (typeof SharedArrayBuffer !== 'undefined' && data instanceof SharedArrayBuffer))
    return new Uint8Array(data);
  throw new TypeError('WebSocket data must be a string, an ArrayBuffer or an ArrayBuffer view');
}
