// Response-body buffers that travel worker → front → worker. A body of TRANSFER_MIN bytes or more
// is copied once into a buffer of ours and transferred to the front; after uWS has taken the
// bytes (res.end copies what the socket does not accept at once) the front transfers the buffer
// back (BUF_RETURN) and it is used again. Without this, every large response allocated a fresh
// buffer here and freed it on the front thread: allocator churn across threads that showed up
// as page faults, about 80 µs per 64 KB response against 5 µs for the copy itself.

/**
 * Bytes kept for reuse at most (enough for every connection of a busy worker to have one in
 * flight), and the largest buffer kept.
 */
const MAX_SPARE_BYTES = 8 << 20;
const MAX_KEPT_BYTES = 1 << 20;
/** A spare up to this many times the request (or 64 KB) is used rather than allocating. */
const SLACK = 2;

const spare: ArrayBuffer[] = [];
let spareBytes = 0;

/** A view of `n` bytes on a buffer of ours (recycled when one fits), to be filled and transferred. */
export function allocOwned(n: number): Uint8Array {
  const limit = Math.max(n * SLACK, 64 * 1024);
  for (let i = spare.length - 1; i >= 0; i--) {
    const ab = spare[i];
    if (ab.byteLength >= n && ab.byteLength <= limit) {
      spare[i] = spare[spare.length - 1];
      spare.pop();
      spareBytes -= ab.byteLength;
      return new Uint8Array(ab, 0, n);
    }
  }
  // Power-of-two capacities (up to the largest kept) let bodies of varying sizes reuse buffers.
  const cap = n <= MAX_KEPT_BYTES ? 2 ** Math.ceil(Math.log2(n)) : n;
  return new Uint8Array(new ArrayBuffer(cap), 0, n);
}

/** A copy of `src` in a buffer of ours. */
export function copyOwned(src: Uint8Array): Uint8Array {
  const out = allocOwned(src.byteLength);
  out.set(src);
  return out;
}

/** A buffer the front is done with. */
export function recycle(ab: ArrayBuffer): void {
  const n = ab.byteLength;
  if (n > 0 && n <= MAX_KEPT_BYTES && spareBytes + n <= MAX_SPARE_BYTES) {
    spare.push(ab);
    spareBytes += n;
  }
}
