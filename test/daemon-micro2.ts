// scratch: pool round trip without uWS
import { DaemonPool } from '../daemon/pool/pool.js';
const cfg: any = { kind: 'app', url: '', module: '/work/main/bench/apps/hello.mjs', interface: 'auto', maxBodySize: 1e9, watch: false,
  pool: { threads: 1, minThreads: 1, concurrency: 64, maxRequests: 0, maxRequestsJitter: 0, requestTimeoutMs: 0, queueSize: 1024, queueTimeoutMs: 0, idleTimeoutMs: 0, env: {} } };
const log = { info() {}, warn() {}, error(m: string, f: unknown) { console.error(m, f); } };
const pool = new DaemonPool(cfg, log);
await pool.start();
let done = 0;
const headers = ['host', 'localhost:8080', 'user-agent', 'wrk', 'accept', '*/*'];
function mk(): any {
  const ex: any = { id: 0, slot: null, arrival: performance.now(), finished: false, bodySent: false, method: 'GET', url: 'http://localhost/', headers, remoteAddress: '127.0.0.1', requestId: 'r', hasBody: false,
    dispatched() {}, resHead() {}, resBody() {}, resEnd() {}, resError() {}, uploadCredit() {}, fail() {},
    resFull() { ex.finished = true; done++; setImmediate(() => pool.submit(mk())); } };
  return ex;
}
const C = Number(process.argv[2] ?? 64);
for (let i = 0; i < C; i++) pool.submit(mk());
const t = performance.now();
await new Promise((r) => setTimeout(r, 3000));
console.log('req/s', Math.round(done / ((performance.now() - t) / 1000)));
await pool.close(100);
