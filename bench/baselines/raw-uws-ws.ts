// The WebSocket ceiling: raw uWebSockets.js in its own process doing the same work as
// bench/apps/ws.mjs in-process: echo, or publish to one topic (uWS's native fan-out).
//
//   node --import tsx bench/baselines/raw-uws-ws.ts --port 8080

import uWS from 'uWebSockets.js';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { port: { type: 'string' } } });
const port = Number(values.port);

interface Data {
  role: string;
}

const app = uWS.App();
app.ws<Data>('/*', {
  // As hostd's defaults: 1 MiB messages, no compression; no idle timeout during a run.
  maxPayloadLength: 1024 * 1024,
  maxBackpressure: 1024 * 1024,
  idleTimeout: 0,
  compression: uWS.DISABLED,
  upgrade: (res, req, context) => {
    res.upgrade<Data>(
      { role: req.getQuery('role') || 'echo' },
      req.getHeader('sec-websocket-key'),
      req.getHeader('sec-websocket-protocol'),
      req.getHeader('sec-websocket-extensions'),
      context,
    );
  },
  open: (ws) => {
    if (ws.getUserData().role === 'sub') ws.subscribe('fan');
  },
  message: (ws, message, isBinary) => {
    if (ws.getUserData().role === 'pub') app.publish('fan', message, isBinary);
    else ws.send(message, isBinary);
  },
});
app.get('/*', (res) => {
  res.end('ok');
});
app.listen('127.0.0.1', port, (s) => {
  if (!s) {
    console.error(`raw-uws-ws: cannot listen on 127.0.0.1:${port}`);
    process.exit(1);
  }
  console.log(`raw-uws-ws: listening on 127.0.0.1:${port}`);
});
