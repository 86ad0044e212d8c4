// scratch microbenchmark (not a test): worker-side cost per request
import { WorkerServer } from '../daemon/worker/serve.js';
import * as P from '../shared/protocol.js';
let got = 0;
const port = { postMessage(b: unknown[]) { for (let i = 0; i < b.length; ) { const t = b[i] as number; if (t === P.RES_FULL) got++; i += 1 + P.FIELDS[t]; } } };
const out = new P.Outbox(port);
const s = new WorkerServer(() => new Response('Hello, World!'), {}, '', out, new Float64Array(1));
const headers = ['host', 'localhost:8080', 'user-agent', 'wrk', 'accept', '*/*'];
let id = 0;
async function run(n: number) {
  const t = performance.now();
  const target = got + n;
  while (got < target) {
    const batch: unknown[] = [];
    for (let i = 0; i < 32; i++) batch.push(P.REQ_HEAD, ++id, 'GET', 'http://localhost:8080/', headers, '127.0.0.1', 'r', false);
    s.onBatch(batch);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
  }
  return n / ((performance.now() - t) / 1000);
}
await run(50000);
console.log('req/s', Math.round(await run(200000)));
