import { resolve } from 'node:path';
import { createAppMount } from '../native-front/dispatch/index.js';
import { quietLog, startHost } from './helpers/host.js';
it('dbg', async () => {
  const log = quietLog();
  let t = performance.now();
  const cfg: any = { kind: 'app', url: '', module: resolve('test/fixtures/apps/kitchen.mjs'), interface: 'auto', maxBodySize: 1e9, watch: false,
    pool: { threads: 1, minThreads: 1, concurrency: 64, maxRequests: 0, maxRequestsJitter: 0, requestTimeoutMs: 0, queueSize: 100, queueTimeoutMs: 0, idleTimeoutMs: 0, env: {} } };
  const m = await createAppMount(cfg, { log, vhost: { serverNames: ['*'], listen: { host: '', port: 0 } } as any });
  console.log('mount start', performance.now() - t); t = performance.now();
  const m2 = await createAppMount(cfg, { log, vhost: { serverNames: ['*'], listen: { host: '', port: 0 } } as any });
  console.log('mount2 start', performance.now() - t); t = performance.now();
  await m.close(); await m2.close();
  console.log('close', performance.now() - t); t = performance.now();
  const h = await startHost([{ serverName: ['*'], apps: [{ url: '/', module: resolve('test/fixtures/apps/kitchen.mjs'), pool: { threads: 1 } }] }], { errorLog: log });
  console.log('host start', performance.now() - t); t = performance.now();
  await h.close();
  console.log('host close', performance.now() - t); t = performance.now();
});
