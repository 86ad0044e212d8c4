// The cached app response scenario (issue 14): a 1 KiB answer the app marks cacheable, on a
// mount with `cache:`. After the first request the front answers from its response cache, so
// the bench measures a cache hit, against hostd's own static 1 KiB hit in the same run.
const body = new Uint8Array(1024).fill(0x63); // 'c'

export default {
  fetch() {
    return new Response(body, { headers: { 'content-type': 'application/octet-stream', 'cache-control': 'public, max-age=3600' } });
  },
};
