// node:http with the same dynamic handlers as raw-uws.ts, in its own process: what a plain Node
// server does on one thread, the "≥ 2× node:http" yardstick.
//
//   node --import tsx bench/baselines/node-http.ts --port 8080

import http from 'node:http';
import { parseArgs } from 'node:util';
import { BIG_BYTE, BIG_SIZE, BIN_TYPE, DYNAMIC_PATHS, HELLO_BODY, HELLO_TYPE } from '../payloads.js';

const { values } = parseArgs({ options: { port: { type: 'string' } } });
const port = Number(values.port);
const big = Buffer.alloc(BIG_SIZE, BIG_BYTE);
const hello = Buffer.from(HELLO_BODY);

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === DYNAMIC_PATHS.hello) {
    res.writeHead(200, { 'Content-Type': HELLO_TYPE, 'Content-Length': hello.length });
    res.end(hello);
  } else if (req.method === 'GET' && req.url === DYNAMIC_PATHS.big) {
    res.writeHead(200, { 'Content-Type': BIN_TYPE, 'Content-Length': big.length });
    res.end(big);
  } else if (req.method === 'POST' && req.url === DYNAMIC_PATHS.echo) {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      res.writeHead(200, { 'Content-Type': BIN_TYPE, 'Content-Length': body.length });
      res.end(body);
    });
  } else {
    res.writeHead(404).end('not found');
  }
});
// wrk keeps connections open for the whole run; Node's defaults would close idle ones between rounds.
server.keepAliveTimeout = 0;
server.listen(port, '127.0.0.1', () => console.log(`node-http: listening on 127.0.0.1:${port}`));
