// The soak's WebSocket flood target (issue 18): a handler that takes 20 ms per message, blocking
// its worker as CPU-bound handling does (Atomics.wait: the thread waits without spinning a core).
// A client sending faster than 50 messages/s must be held back (TCP pushes back on it) or
// closed; hostd must not queue its messages without bound.
const lock = new Int32Array(new SharedArrayBuffer(4));

export default {
  fetch(request, _env, ctx) {
    return ctx.upgrade(request) ? undefined : new Response('WebSocket only\n', { status: 426 });
  },
  websocket: {
    message() {
      Atomics.wait(lock, 0, 0, 20);
    },
  },
};
