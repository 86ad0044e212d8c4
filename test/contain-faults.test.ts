// A busy-looping worker (issue 9, item 10, documented in README and docs/operations.md): the
// requests its app had already started cannot finish while it loops, so they go down with it as
// 504s at their requestTimeout; other pools are served meanwhile, and the pool recovers with a
// fresh worker.
import { expect } from 'chai';
import { request } from 'undici';
import { startHost } from './helpers/host.js';
import { poll, VICTIM_APP } from './fixtures/contain/net.js';

describe('contain: a worker stuck in a busy loop', function () {
  this.timeout(30_000);

  it('takes the requests it had started with it as 504s; another pool answers during the loop; the pool recovers', async () => {
    const h = await startHost([
      {
        serverName: ['*'],
        apps: [
          { url: '/app', module: VICTIM_APP, pool: { threads: 1, concurrency: 8, requestTimeout: '1s' } },
          { url: '/other', module: VICTIM_APP, pool: { threads: 1 } },
        ],
      },
    ]);
    try {
      const t0 = performance.now();
      const timed = (path: string) =>
        request(h.url(path)).then(async (r) => ({ status: r.statusCode, body: await r.body.text(), ms: performance.now() - t0 }));
      const threadBefore = await (await request(h.url('/app/thread'))).body.text();
      // Two requests the app starts and would finish in 600 ms, then a busy loop on the same worker.
      const started = [timed('/app/slow?ms=600'), timed('/app/slow?ms=600')];
      await poll(
        async () => ((await h.host.status()).hosts[0].mounts[0] as { pool: { inFlight: number } }).pool.inFlight === 2,
        'both started',
      );
      const busy = timed('/app/busy');
      const other = await timed('/other/hello');
      const [a, b, loop] = await Promise.all([...started, busy]);
      expect(other.status).to.equal(200);
      expect(other.ms, 'the other pool answered during the loop').to.be.below(loop.ms);
      expect([a.status, b.status, loop.status]).to.deep.equal([504, 504, 504]);
      for (const r of [a, b, loop]) expect(r.body).to.equal('504 Gateway Timeout\n');
      await poll(async () => (await request(h.url('/app/hello')).then((r) => r.body.text())) === 'hello', 'the pool serves again');
      expect(await (await request(h.url('/app/thread'))).body.text()).to.not.equal(threadBefore);
    } finally {
      await h.close();
    }
  });
});
