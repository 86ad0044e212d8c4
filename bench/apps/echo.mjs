// The 1 KiB POST echo scenario: the request body goes front → worker and back again.
export default {
  async fetch(request) {
    const body = await request.arrayBuffer();
    return new Response(body, { headers: { 'content-type': 'application/octet-stream' } });
  },
};
