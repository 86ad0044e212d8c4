// The WebSocket scenarios (bench/ws): echo every message back, or, for a publisher
// (?role=pub), publish it to the subscribers (?role=sub) of one topic: the front fans it out.
export default {
  fetch(request, _env, ctx) {
    const role = new URL(request.url).searchParams.get('role') ?? 'echo';
    return ctx.upgrade(request, { data: role }) ? undefined : new Response('WebSocket only\n', { status: 426 });
  },
  websocket: {
    open(ws) {
      if (ws.data === 'sub') ws.subscribe('fan');
    },
    message(ws, message) {
      if (ws.data === 'pub') ws.publish('fan', message);
      else ws.send(message);
    },
  },
};
