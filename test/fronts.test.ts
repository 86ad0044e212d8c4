// Several front threads (--fronts): every front accepts and serves on the same sockets, all
// dispatch into the same pools (threads: 1 stays one worker), and a reload lands on every front.
// Plus the batch rule: a response leaves when its handler finishes, not when its batch does.
import { expect } from 'chai';
import { resolve } from 'node:path';
import { Agent, request } from 'undici';
import { quietLog, startHost } from './helpers/host.js';

const FIX = resolve('test/fixtures/fronts');

describe('fronts on several threads', function () {
  this.timeout(60_000);

  it('--fronts 2: both fronts serve, share one pool, and reload together', async () => {
    const log = quietLog();
    const site = (version: string) => ({
      serverName: ['*'],
      listen: 0,
      static: [{ url: '/static', dir: FIX }],
      apps: [{ url: '/', module: resolve(FIX, 'hello.mjs'), pool: { threads: 1, env: { VERSION: version } } }],
    });
    const h = await startHost([site('one')], { errorLog: log, fronts: 2 });
    // A fresh connection per request: the kernel spreads connections over the fronts' sockets.
    const fresh = new Agent({ pipelining: 0, keepAliveTimeout: 1, connections: 1 });
    try {
      const answers = new Set<string>();
      for (let i = 0; i < 60; i++) {
        const res = await request(h.url('/x'), { dispatcher: fresh, headers: { connection: 'close' } });
        answers.add(await res.body.text());
      }
      expect([...answers]).to.deep.equal(['hello one\n']);
      const status = await h.host.status();
      expect(status.fronts).to.have.length(2);
      for (const f of status.fronts) expect(f.requests, `front ${f.index}`).to.be.above(0);
      const app = status.hosts[0].mounts.find((m) => m.url === '/') as { pool: { threads: number } };
      expect(app.pool.threads).to.equal(1); // one worker, whatever the number of fronts
      const file = await request(h.url('/static/hello.mjs'), { dispatcher: fresh, headers: { connection: 'close' } });
      expect(file.statusCode).to.equal(200);
      await file.body.text();

      await h.host.reload([site('two')]);
      const after = new Set<string>();
      for (let i = 0; i < 40; i++) {
        const res = await request(h.url('/x'), { dispatcher: fresh, headers: { connection: 'close' } });
        after.add(await res.body.text());
      }
      expect([...after]).to.deep.equal(['hello two\n']);
      const again = await h.host.status();
      for (const f of again.fronts) expect(f.requests, `front ${f.index} after the reload`).to.be.above(status.fronts[f.index].requests);
    } finally {
      await fresh.close();
      await h.close();
    }
  });
});

describe('the batch rule', function () {
  this.timeout(60_000);

  it('ten CPU-bound requests at once: answers leave as each handler finishes, the first well before the last', async () => {
    const h = await startHost(
      [{ serverName: ['*'], listen: 0, apps: [{ url: '/', module: resolve(FIX, 'cpu.mjs'), pool: { threads: 1, concurrency: 16 } }] }],
      { errorLog: quietLog() },
    );
    const agent = new Agent({ connections: 10 });
    try {
      await (await request(h.url('/?ms=1'), { dispatcher: agent })).body.text(); // warm
      const t0 = performance.now();
      const times = await Promise.all(
        Array.from({ length: 10 }, async () => {
          const res = await request(h.url('/?ms=250'), { dispatcher: agent });
          await res.body.text();
          expect(res.statusCode).to.equal(200);
          return performance.now() - t0;
        }),
      );
      times.sort((a, b) => a - b);
      // One worker computes them one after another (~2.5 s in all). Were responses held until the
      // batch ended, all ten would arrive together at the end.
      expect(times[0]).to.be.below(times[9] / 2);
      expect(times[4]).to.be.below(times[9] * 0.8);
    } finally {
      await agent.close();
      await h.close();
    }
  });
});
