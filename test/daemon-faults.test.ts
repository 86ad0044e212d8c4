// Faults in a daemon pool: crashes, busy loops, OOM, rejections, overload, recycling, load errors.
import { dirname, resolve } from 'node:path';
import { expect } from 'chai';
import { request } from 'undici';
import { checkApp } from '../daemon/pool/check.js';
import type { AppMountConfig, ResolvedApp } from '../shared/config/types.js';
import { KITCHEN, quietLog, releaseHeld, sleep, startHost, type TestHost, waitFor } from './helpers/index.js';

const BROKEN = resolve('test/fixtures/apps/broken.mjs');

async function withHost(apps: AppMountConfig[], fn: (h: TestHost, log: ReturnType<typeof quietLog>) => Promise<void>): Promise<void> {
  const log = quietLog();
  const h = await startHost([{ serverName: ['*'], apps }], { errorLog: log });
  try {
    await fn(h, log);
  } finally {
    await h.close();
  }
}

async function get(h: TestHost, path: string): Promise<{ status: number; text: string; headers: Record<string, unknown> }> {
  const res = await request(h.url(path));
  return { status: res.statusCode, text: await res.body.text(), headers: res.headers };
}

/** Polls until the pool answers hello again (10 s: a loaded machine starts workers slowly). */
async function recovered(h: TestHost): Promise<void> {
  await waitFor(
    async () => {
      const r = await get(h, '/hello');
      return r.status === 200 && r.text === 'hello world';
    },
    { timeout: 10_000, interval: 50, what: 'the pool to answer /hello again' },
  );
}

describe('daemon pool: faults', function () {
  this.timeout(30000);

  it('process.exit(): 502, the worker is replaced, the next request succeeds; other pools untouched', async () => {
    const apps = [
      { url: '/', module: KITCHEN, pool: { threads: 1 } },
      { url: '/other', module: KITCHEN, pool: { threads: 1 } },
    ];
    await withHost(apps, async (h, log) => {
      const otherBefore = await get(h, '/other/thread');
      const before = await get(h, '/thread');
      const r = await get(h, '/exit');
      expect(r.status).to.equal(502);
      expect(r.text).to.not.match(/at |exited/);
      await recovered(h);
      const after = await get(h, '/thread');
      expect(after.text).to.not.equal(before.text);
      expect((await h.pool('/')).restarts.exit).to.equal(1);
      expect(log.lines.some((l) => /daemon worker died \(exit\)/.test(l))).to.equal(true);
      expect((await get(h, '/other/thread')).text).to.equal(otherBefore.text);
      expect((await h.pool('/other')).restarts.exit).to.equal(0);
    });
  });

  it('an uncaught exception kills only that worker: 502, then service resumes', async () => {
    await withHost([{ url: '/', module: KITCHEN, pool: { threads: 1 } }], async (h, log) => {
      const r = await get(h, '/crash');
      expect(r.status).to.equal(502);
      await recovered(h);
      expect((await h.pool('/')).restarts.error).to.equal(1);
      expect(log.lines.some((l) => /uncaught in a timer/.test(l))).to.equal(true);
    });
  });

  it('busy loop with requestTimeout 1s: 504 at the deadline, the worker is terminated, the pool recovers', async () => {
    await withHost([{ url: '/', module: KITCHEN, pool: { threads: 1, requestTimeout: '1s' } }], async (h) => {
      const t0 = Date.now();
      const r = await get(h, '/busy');
      const took = Date.now() - t0;
      expect(r.status).to.equal(504);
      // The deadline is the feature: not before requestTimeout, and long before never (the busy
      // loop does not end by itself); the upper bound is wide for a loaded machine.
      expect(took).to.be.within(900, 10_000);
      await recovered(h);
      expect((await h.pool('/')).restarts.timeout).to.equal(1);
    });
  });

  it('requests behind a stuck worker that had not started are re-dispatched, not lost', async () => {
    await withHost([{ url: '/', module: KITCHEN, pool: { threads: 1, concurrency: 4, requestTimeout: '6s' } }], async (h) => {
      const busy = get(h, '/busy');
      await waitFor(async () => (await h.pool('/')).inFlight === 1, { what: '/busy to reach the worker' });
      // Time is the feature: the request behind must arrive while the worker is stuck but late
      // enough that its own 6 s deadline falls well after the stuck worker is replaced (at its
      // deadline plus at most 1 s of grace), leaving a loaded machine ~3 s to start a new worker.
      await sleep(4000);
      const behind = get(h, '/hello');
      // Dispatched to the same (stuck) worker, behind /busy in its message queue: never started there.
      await waitFor(async () => (await h.pool('/')).inFlight === 2, { what: '/hello to be sent to the stuck worker' });
      expect((await busy).status).to.equal(504);
      const r = await behind;
      expect(r.status).to.equal(200);
      expect(r.text).to.equal('hello world');
    });
  });

  it('out of memory (memoryLimitMb 32): 5xx, the worker is replaced', async () => {
    await withHost([{ url: '/', module: KITCHEN, pool: { threads: 1, memoryLimitMb: 32 } }], async (h) => {
      const r = await get(h, '/oom');
      expect(r.status).to.be.within(500, 503);
      await recovered(h);
      expect((await h.pool('/')).restarts.oom).to.equal(1);
    });
  });

  it('an unhandled rejection is logged and the worker keeps serving', async () => {
    await withHost([{ url: '/', module: KITCHEN, pool: { threads: 1 } }], async (h, log) => {
      const t1 = await get(h, '/thread');
      const r = await get(h, '/reject');
      expect(r.status).to.equal(200);
      await waitFor(() => log.lines.some((l) => /^error unhandled rejection: Error: nobody handles this rejection/.test(l)), {
        what: 'the rejection in the error log',
      });
      const t2 = await get(h, '/thread');
      expect(t2.text).to.equal(t1.text);
      const s = await h.pool('/');
      expect(s.restarts.error + s.restarts.exit).to.equal(0);
    });
  });

  it('queue overflow: threads 1, concurrency 1, queueSize 1 -> 503 with Retry-After', async () => {
    await withHost([{ url: '/', module: KITCHEN, pool: { threads: 1, concurrency: 1, queueSize: 1 } }], async (h) => {
      const a = get(h, '/held?key=overflow'); // occupies the one slot until released
      await waitFor(async () => (await h.pool('/')).inFlight === 1, { what: 'the first request in the worker' });
      const b = get(h, '/slow?ms=10');
      await waitFor(async () => (await h.pool('/')).queued === 1, { what: 'the second request in the queue' });
      const c = await get(h, '/hello');
      expect(c.status).to.equal(503);
      expect(c.headers['retry-after']).to.equal('1');
      releaseHeld('overflow');
      expect(await a).to.include({ status: 200, text: 'released overflow' });
      expect((await b).status).to.equal(200);
    });
  });

  it('queueTimeout: a request that waited too long gets 503', async () => {
    await withHost([{ url: '/', module: KITCHEN, pool: { threads: 1, concurrency: 1, queueTimeout: '200ms' } }], async (h) => {
      const a = get(h, '/held?key=queue-timeout'); // occupies the one slot until released
      await waitFor(async () => (await h.pool('/')).inFlight === 1, { what: 'the first request in the worker' });
      const t0 = Date.now();
      const b = await get(h, '/hello'); // the slot never frees: only the queue timeout can answer it
      expect(b.status).to.equal(503);
      expect(Date.now() - t0).to.be.at.least(180); // it waited (200 ms, less timer slack)
      releaseHeld('queue-timeout');
      expect((await a).status).to.equal(200);
    });
  });

  it('maxRequests recycles the worker after N requests', async () => {
    await withHost([{ url: '/', module: KITCHEN, pool: { threads: 1, maxRequests: 3, maxRequestsJitter: 0 } }], async (h) => {
      const ids: string[] = [];
      for (let i = 0; i < 7; i++) ids.push((await get(h, '/thread')).text);
      expect(ids[0]).to.equal(ids[1]).and.equal(ids[2]);
      expect(ids[3]).to.not.equal(ids[2]);
      expect(ids[3]).to.equal(ids[4]).and.equal(ids[5]);
      expect(ids[6]).to.not.equal(ids[5]);
      expect((await h.pool('/')).restarts.maxRequests).to.be.at.least(2);
    });
  });

  it('an app that fails to load answers 503 while another mount still serves', async () => {
    await withHost(
      [
        { url: '/broken', module: BROKEN, pool: { threads: 1 } },
        { url: '/', module: KITCHEN, pool: { threads: 1 } },
      ],
      async (h, log) => {
        const r = await get(h, '/broken/x');
        expect(r.status).to.equal(503);
        expect(r.text).to.not.match(/does-not-exist/);
        expect((await get(h, '/hello')).status).to.equal(200);
        expect((await h.pool('/broken')).loadError).to.match(/does-not-exist/);
        expect(log.lines.some((l) => /does-not-exist/.test(l))).to.equal(true);
      },
    );
  });

  it('a reload rolls the pool: fresh workers take over with no request dropped', async () => {
    await withHost([{ url: '/', module: KITCHEN, pool: { threads: 2 } }], async (h) => {
      const before = new Set<string>();
      for (let i = 0; i < 6; i++) before.add((await get(h, '/thread')).text);
      let stop = false;
      const statuses: number[] = [];
      const load = (async () => {
        while (!stop) {
          const rs = await Promise.all([get(h, '/slow?ms=30'), get(h, '/hello'), get(h, '/hello')]);
          for (const r of rs) statuses.push(r.status);
        }
      })();
      await h.host.reload(); // rolls every pool
      // Keep the load on until the fresh workers have served some of it.
      const atRoll = statuses.length;
      await waitFor(() => statuses.length >= atRoll + 6, { what: 'requests after the roll' });
      stop = true;
      await load;
      expect(statuses.every((s) => s === 200)).to.equal(true);
      const after = new Set<string>();
      for (let i = 0; i < 6; i++) after.add((await get(h, '/thread')).text);
      for (const t of after) expect(before.has(t)).to.equal(false);
      const pool = await h.pool('/');
      expect(pool.restarts.roll).to.equal(2);
      expect(pool.threads).to.equal(2);
    });
  });

  it('checkApp() loads a module once in a worker and reports why it does not load', async () => {
    const cfg = (module: string): ResolvedApp => ({
      kind: 'app',
      url: '',
      module,
      interface: 'auto',
      maxBodySize: 1024,
      stripPrefix: true,
      bufferBody: 0,
      bodyTimeoutMs: 1000,
      maxUrlLength: 1024,
      watch: false,
      websocket: {
        maxPayload: 1024,
        idleTimeoutMs: 0,
        maxBackpressure: 1024,
        maxPendingBytes: 4096,
        compression: false,
        maxConnections: 1,
      },
      pool: {
        threads: 1,
        minThreads: 1,
        concurrency: 1,
        maxRequests: 0,
        maxRequestsJitter: 0,
        requestTimeoutMs: 0,
        queueSize: 0,
        queueTimeoutMs: 0,
        idleTimeoutMs: 0,
        startTimeoutMs: 1000,
        cwd: dirname(module),
        env: {},
        isolation: 'thread',
        processes: 1,
      },
    });
    expect(await checkApp(cfg(KITCHEN))).to.equal(undefined);
    expect(await checkApp(cfg(BROKEN))).to.match(/broken\.mjs failed to load: .*does-not-exist/);
  });
});
