// The dynamic "hello" scenario: the smallest fetch handler, so the bench measures hostd's
// front → pool → front round trip and nothing of the app.
export default {
  fetch() {
    return new Response('Hello, World!');
  },
};
