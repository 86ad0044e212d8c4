// The common Node setup: the `ws` library on node:http, doing the same work as bench/apps/ws.mjs:
// echo, or send to every subscriber (ws has no pub/sub: its documented broadcast loop).
//
//   node --import tsx bench/baselines/ws-node.ts --port 8080

import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { WebSocketServer, type WebSocket } from 'ws';

const { values } = parseArgs({ options: { port: { type: 'string' } } });
const port = Number(values.port);

const server = createServer((_req, res) => res.end('ok'));
const wss = new WebSocketServer({ server, maxPayload: 1024 * 1024 });
const subscribers = new Set<WebSocket>();
wss.on('connection', (ws, req) => {
  const role = new URL(req.url ?? '/', 'http://x').searchParams.get('role') ?? 'echo';
  if (role === 'sub') {
    subscribers.add(ws);
    ws.on('close', () => subscribers.delete(ws));
  }
  ws.on('message', (data, isBinary) => {
    if (role === 'pub') for (const s of subscribers) s.send(data, { binary: isBinary });
    else ws.send(data, { binary: isBinary });
  });
});
server.listen(port, '127.0.0.1', () => console.log(`ws-node: listening on 127.0.0.1:${port}`));
