// The 64 KB response scenario: a body big enough that the transfer back to the front, not the
// dispatch, dominates. Built once; `new Response(bytes)` copies it per request, as apps do.
const body = new Uint8Array(64 * 1024).fill(0x78);

export default {
  fetch() {
    return new Response(body, { headers: { 'content-type': 'application/octet-stream' } });
  },
};
