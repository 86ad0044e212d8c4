// The few pieces of RFC 6455 framing the node bridge needs (ws-bridge.ts). The front terminates the
// real WebSocket; a node app's library (ws, or socket.io through engine.io) still speaks frames to
// the socket it was given, so the bridge turns whole messages into client frames for it to read,
// and parses the server frames it writes back into whole messages.
//
// Client frames must be masked (the library refuses unmasked ones); a zero masking key leaves the
// payload as it is, so nothing is XORed. No extension is ever negotiated with the library (the
// bridge hides Sec-WebSocket-Extensions), so RSV bits are always 0.
import { Buffer } from 'node:buffer';

export const OP_CONTINUATION = 0;
export const OP_TEXT = 1;
export const OP_BINARY = 2;
export const OP_CLOSE = 8;
export const OP_PING = 9;
export const OP_PONG = 10;

/** A client → server frame (FIN set, masked with a zero key) carrying `payload`. */
export function clientFrame(opcode: number, payload: Uint8Array): Buffer {
  const n = payload.byteLength;
  const lenBytes = n < 126 ? 0 : n < 65536 ? 2 : 8;
  const head = Buffer.allocUnsafe(2 + lenBytes + 4);
  head[0] = 0x80 | opcode;
  if (lenBytes === 0) head[1] = 0x80 | n;
  else if (lenBytes === 2) {
    head[1] = 0x80 | 126;
    head.writeUInt16BE(n, 2);
  } else {
    head[1] = 0x80 | 127;
    head.writeBigUInt64BE(BigInt(n), 2);
  }
  head.writeUInt32BE(0, 2 + lenBytes); // the masking key: zero
  return Buffer.concat([head, payload]);
}

/** A close frame's payload: the code and the reason (nothing for 1005, "no status"). */
export function closePayload(code: number, reason: string): Buffer {
  if (code === 1005 || code === 0) return Buffer.alloc(0);
  const text = Buffer.from(reason);
  const out = Buffer.allocUnsafe(2 + text.byteLength);
  out.writeUInt16BE(code, 0);
  text.copy(out, 2);
  return out;
}

/** A close frame's code and reason (1005 when it has none). */
export function parseClose(payload: Uint8Array): { code: number; reason: string } {
  if (payload.byteLength < 2) return { code: 1005, reason: '' };
  const b = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  return { code: b.readUInt16BE(0), reason: b.subarray(2).toString('utf8') };
}

export interface Frame {
  opcode: number;
  payload: Buffer;
}

/**
 * Parses the server frames a library writes (unmasked), across writes of any size, and joins
 * fragmented messages: `onFrame` gets whole messages and control frames.
 */
export class FrameParser {
  private buf: Buffer = Buffer.alloc(0);
  private fragments: Buffer[] | null = null;
  private fragmentOpcode = 0;

  constructor(private readonly onFrame: (f: Frame) => void) {}

  push(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    for (;;) {
      const b = this.buf;
      if (b.length < 2) return;
      const fin = (b[0] & 0x80) !== 0;
      const opcode = b[0] & 0x0f;
      const masked = (b[1] & 0x80) !== 0;
      let len = b[1] & 0x7f;
      let at = 2;
      if (len === 126) {
        if (b.length < 4) return;
        len = b.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (b.length < 10) return;
        len = Number(b.readBigUInt64BE(2));
        at = 10;
      }
      let mask: Buffer | null = null;
      if (masked) {
        if (b.length < at + 4) return;
        mask = b.subarray(at, at + 4);
        at += 4;
      }
      if (b.length < at + len) return;
      let payload = b.subarray(at, at + len);
      if (mask !== null) {
        payload = Buffer.from(payload);
        for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i & 3];
      }
      this.buf = b.subarray(at + len);
      this.frame(fin, opcode, payload);
    }
  }

  private frame(fin: boolean, opcode: number, payload: Buffer): void {
    if (opcode >= 8) return this.onFrame({ opcode, payload }); // control frames are never fragmented
    if (opcode !== OP_CONTINUATION) {
      if (fin) return this.onFrame({ opcode, payload });
      this.fragmentOpcode = opcode;
      this.fragments = [Buffer.from(payload)];
      return;
    }
    if (this.fragments === null) return; // a continuation of nothing: ignore
    this.fragments.push(Buffer.from(payload));
    if (!fin) return;
    const whole = Buffer.concat(this.fragments);
    this.fragments = null;
    this.onFrame({ opcode: this.fragmentOpcode, payload: whole });
  }
}

/** The HTTP answer a library wrote on an upgrade request: its head, and where the head ended. */
export interface WrittenHead {
  status: number;
  statusText: string;
  /** Flat [name, value, ...], names lowercase. */
  headers: string[];
  /** Bytes after the head's blank line. */
  rest: Buffer;
}

/** Parses an HTTP/1.1 response head from the bytes written so far; null until it is complete. */
export function parseHead(bytes: Buffer): WrittenHead | null {
  const end = bytes.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const lines = bytes.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0] ?? '');
  if (!m) throw new Error(`the app wrote an unexpected answer to the upgrade: ${JSON.stringify(lines[0])}`);
  const headers: string[] = [];
  for (let i = 1; i < lines.length; i++) {
    const colon = lines[i].indexOf(':');
    if (colon <= 0) continue;
    headers.push(lines[i].slice(0, colon).trim().toLowerCase(), lines[i].slice(colon + 1).trim());
  }
  return { status: Number(m[1]), statusText: m[2] ?? '', headers, rest: bytes.subarray(end + 4) };
}
