// A chat room over WebSockets, in Bun's shape: fetch accepts the upgrade (or refuses it with an
// ordinary response), `websocket` handles the socket in the worker that accepted it, and
// publish() fans a message out in the front to every subscriber, whichever worker holds it.
interface Ctx {
  upgrade(request: Request, options?: { data?: unknown; headers?: HeadersInit }): boolean;
}

interface Socket {
  data: { name: string };
  send(message: string): number;
  subscribe(topic: string): void;
  publish(topic: string, message: string): number;
}

export default {
  fetch(request: Request, _env: unknown, ctx: Ctx): Response | undefined {
    const name = new URL(request.url).searchParams.get('name')?.slice(0, 32) || 'someone';
    if (request.headers.get('upgrade') !== 'websocket') return new Response('connect with a WebSocket\n', { status: 426 });
    if (ctx.upgrade(request, { data: { name } })) return undefined;
    return new Response('not a WebSocket request\n', { status: 400 });
  },
  websocket: {
    open(ws: Socket) {
      ws.subscribe('room');
      ws.publish('room', `${ws.data.name} joined`);
      ws.send(`welcome, ${ws.data.name}`);
    },
    message(ws: Socket, message: string | Uint8Array) {
      if (typeof message === 'string') ws.publish('room', `${ws.data.name}: ${message}`);
    },
    close(ws: Socket) {
      ws.publish('room', `${ws.data.name} left`);
    },
  },
};
