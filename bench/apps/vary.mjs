// The soak's cache-key flood target (issue 18), on a mount with `cache:`: 1 KiB answers the
// cache keeps apart by User-Agent (`Vary`), or, with `?nostore`, answers it must not keep (the
// cache remembers such URLs as uncacheable). Every key, variant and mark must count against
// the cache's maxSize.
const body = new Uint8Array(1024).fill(0x76); // 'v'

export default {
  fetch(request) {
    const nostore = new URL(request.url).searchParams.has('nostore');
    return new Response(body, {
      headers: {
        'content-type': 'application/octet-stream',
        'cache-control': nostore ? 'no-store' : 'public, max-age=3600',
        vary: 'User-Agent',
      },
    });
  },
};
