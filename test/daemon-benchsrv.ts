import { createRequire } from 'node:module';
import { createAppMount } from '../native-front/dispatch/index.js';
const require = createRequire('/work/main/package.json');
const uWS = require('uWebSockets.js');
const log = { info() {}, warn() {}, error(m: string, f: unknown) { console.error(m, f); } };
const cfg: any = { kind: 'app', url: '', module: '/work/main/bench/apps/hello.mjs', interface: 'auto', maxBodySize: 1e9, watch: false,
  pool: { threads: 1, minThreads: 1, concurrency: 64, maxRequests: 0, maxRequestsJitter: 0, requestTimeoutMs: 30000, queueSize: 1024, queueTimeoutMs: 10000, idleTimeoutMs: 0, env: {} } };
const m = await createAppMount(cfg, { log, vhost: { serverNames: ['*'], listen: { host: '', port: 0 } } as any });
let n = 0;
uWS.App().any('/*', (res: any, req: any) => {
  const ctx = { vhost: null, mount: cfg, method: req.getMethod(), url: req.getUrl(), query: req.getQuery(), host: req.getHeader('host'), secure: false, requestId: 'r' + (++n), remoteAddress: '127.0.0.1', start: performance.now(), done() {} };
  m.handle(res, req, ctx as any);
}).listen('127.0.0.1', Number(process.argv[2]), () => console.log('ready'));
process.on('SIGINT', () => { process.exit(0); });
setInterval(() => { const g = globalThis as any; if (g.__b) console.log('batches', g.__b, 'avg fields', (g.__m / g.__b).toFixed(1)); g.__b = 0; g.__m = 0; }, 1000).unref();
