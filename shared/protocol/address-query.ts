// The client address on demand. uWS v20.30 answers getRemoteAddress() with a getpeername()
// syscall on every call, which on these machines cost the front about a fifth of its dynamic
// throughput; most apps never look at the address. So a pool's requests go out without it until
// its app first asks: the worker then blocks on this small shared buffer while the front reads the
// address of that request and writes it here, and from then on the pool sends the address with
// every request.
//
// Layout (Int32 slots, then bytes): [0] the sequence number of the last answer, [1] its length
// in bytes, bytes from BYTES_AT: the address as UTF-8. The worker asks with an ADDR_QUERY message
// (id, seq) and waits until slot 0 reaches seq; the sequence number tells a late answer to an
// abandoned question from the answer it is waiting for.
import type { PortLike } from './codec.js';
import { TO_FRONT } from './table.js';

const BYTES_AT = 8;
const MAX_BYTES = 120; // an IPv6 address with a zone id fits with room to spare
export const ADDRESS_BUFFER_BYTES = BYTES_AT + MAX_BYTES;
/** How long a worker waits for the front before it goes on with "" (the front is never blocked on a worker). */
const ANSWER_TIMEOUT_MS = 2000;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Front side: answers question `seq` with `address` ("" when the request is gone). */
export function answerAddress(buf: SharedArrayBuffer, seq: number, address: string): void {
  const bytes = new Uint8Array(buf, BYTES_AT, MAX_BYTES);
  const { written } = encoder.encodeInto(address, bytes);
  const slots = new Int32Array(buf, 0, 2);
  slots[1] = written;
  Atomics.store(slots, 0, seq);
  Atomics.notify(slots, 0);
}

/** Worker side: one blocking question at a time; its thread is the only asker. */
export class AddressQuery {
  private readonly slots: Int32Array;
  private readonly bytes: Uint8Array;
  private seq = 0;

  constructor(
    buf: SharedArrayBuffer,
    private readonly port: PortLike,
  ) {
    this.slots = new Int32Array(buf, 0, 2);
    this.bytes = new Uint8Array(buf, BYTES_AT, MAX_BYTES);
  }

  /** The address of request `id`, from the front; "" if the front does not answer in time. */
  ask(id: number): string {
    const seq = ++this.seq;
    // Straight onto the port, not into the per-tick batch: the worker is about to block.
    this.port.postMessage([TO_FRONT.addrQuery.tag, id, seq]);
    const deadline = performance.now() + ANSWER_TIMEOUT_MS;
    for (;;) {
      const seen = Atomics.load(this.slots, 0);
      if (seen === seq) break;
      const left = deadline - performance.now();
      if (left <= 0) return '';
      Atomics.wait(this.slots, 0, seen, left);
    }
    return decoder.decode(this.bytes.slice(0, this.slots[1]));
  }
}
