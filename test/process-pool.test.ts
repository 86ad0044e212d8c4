// pool.isolation: process (daemon/process): the app's worker threads run in daemon processes of
// their own, reached over Unix sockets with the same protocol tables. The other pool in each host
// is a thread pool: what happens to one process must not reach it.
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { request } from 'undici';
import { quietLog, startHost, startLoad, type TestHost, waitFor } from './helpers/index.js';
import { connect, startsWith } from './helpers/ws.js';

const PROBE = resolve('test/fixtures/apps/process-probe.mjs');
const HELLO = resolve('test/fixtures/apps/hello.mjs');
const CHAT = resolve('test/fixtures/ws/chat.mjs');

interface Who {
  pid: number;
  ppid: number;
  uid: number;
  cwd: string;
}

async function who(h: TestHost, path = '/p/who'): Promise<Who> {
  const res = await request(h.url(path));
  expect(res.statusCode).to.equal(200);
  return (await res.body.json()) as Who;
}

describe('process pools (pool.isolation: process)', function () {
  this.timeout(60_000);
  let h: TestHost;

  before(async () => {
    h = await startHost([
      {
        serverName: ['*'],
        apps: [
          { url: '/p', module: PROBE, pool: { isolation: 'process', threads: 2, startTimeout: '20s' } },
          { url: '/t', module: HELLO, pool: { threads: 1 } },
          { url: '/tp', module: PROBE, pool: { threads: 1 } },
          { url: '/ws', module: CHAT, pool: { isolation: 'process', processes: 2, threads: 1 } },
          { url: '/ws2', module: CHAT, pool: { isolation: 'process', threads: 2 } },
          { url: '/timeout', module: PROBE, pool: { isolation: 'process', threads: 2, requestTimeout: '500ms' } },
          { url: '/mem', module: PROBE, pool: { isolation: 'process', threads: 1, memoryLimitMb: 200 } },
          { url: '/recycle', module: PROBE, pool: { isolation: 'process', threads: 1, maxRequests: 3 } },
        ],
      },
    ]);
  });
  after(() => h?.close());

  it('serves a request from a daemon process of its own, not hostd', async () => {
    const w = await who(h);
    expect(w.pid).to.not.equal(process.pid);
    expect(w.ppid).to.equal(process.pid);
  });

  it('the client address reaches the app when it asks (the question crosses to the front and back)', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await request(h.url('/p/addr'));
      expect(await res.body.text()).to.match(/127\.0\.0\.1$/);
    }
  });

  it('streams a POST body both ways through the socket', async () => {
    const body = Buffer.alloc(3 * 1024 * 1024, 7);
    const res = await request(h.url('/p/echo'), { method: 'POST', body });
    expect(res.statusCode).to.equal(200);
    const got = Buffer.from(await res.body.arrayBuffer());
    expect(got.length).to.equal(body.length);
    expect(got.equals(body)).to.equal(true);
  });

  it('bodies larger than a frame cross in pieces and arrive whole: 80 MiB of bytes both ways, 80 MiB of text (past MAX_FRAME)', async () => {
    const body = Buffer.alloc(80 * 1024 * 1024);
    for (let i = 0; i < body.length; i += 4096) body[i] = i & 0xff;
    const res = await request(h.url('/p/echo'), { method: 'POST', body });
    const got = Buffer.from(await res.body.arrayBuffer());
    expect(res.statusCode).to.equal(200);
    expect(got.length).to.equal(body.length);
    expect(got.equals(body)).to.equal(true);
    const text = await request(h.url('/p/big-text?mb=80'));
    const t = await text.body.text();
    expect(t.length).to.equal(40 * 1024 * 1024);
    expect(/^é+$/.test(t)).to.equal(true);
  });

  it('every string of a request and a response crosses as it does to a thread pool', async () => {
    const ask = async (mount: string) => {
      const res = await request(h.url(`${mount}/strings?q=%C3%A9t%C3%A9&empty=`), {
        method: 'PUT',
        headers: { 'x-word': Buffer.from('café ñ', 'latin1').toString('latin1'), 'x-empty': '', 'x-many': ['a', 'b'] },
        body: 'x',
      });
      return { status: res.statusCode, echo: res.headers['x-echo'], body: Buffer.from(await res.body.arrayBuffer()) };
    };
    const [proc, thread] = [await ask('/p'), await ask('/tp')];
    expect(proc.status).to.equal(200);
    expect(proc.body.toString('utf8')).to.include(' 🌍 é').and.include('"x-many","a, b"');
    expect(proc.echo).to.equal(thread.echo);
    expect(proc.body.equals(thread.body), `${proc.body}\n${thread.body}`).to.equal(true);
  });

  it('WebSockets and pub/sub work across daemon processes', async () => {
    const a = await connect(`ws://127.0.0.1:${h.port}/ws/?user=ann`);
    const b = await connect(`ws://127.0.0.1:${h.port}/ws/?user=bob`);
    try {
      await a.next(startsWith('{"hello"'));
      await b.next(startsWith('{"hello"'));
      a.send('echo ping');
      expect(await a.next((m) => m === 'ping')).to.equal('ping');
      a.send(Buffer.from([1, 2, 3]));
      expect([...((await a.next((m) => Buffer.isBuffer(m))) as Buffer)]).to.deep.equal([1, 2, 3]);
      a.send('pub hi all'); // the front fans out the topic to every subscriber, whichever process holds it
      expect(await b.next((m) => m === 'ann: hi all')).to.equal('ann: hi all');
    } finally {
      a.close();
      b.close();
    }
  });

  it('WebSockets opened in quick succession spread over the threads (the fronts count them at once)', async () => {
    const threads: number[] = [];
    const open: Array<Awaited<ReturnType<typeof connect>>> = [];
    try {
      for (let i = 0; i < 4; i++) {
        const c = await connect(`ws://127.0.0.1:${h.port}/ws2/?user=u${i}`);
        open.push(c);
        threads.push((JSON.parse(String(await c.next(startsWith('{"hello"')))) as { thread: number }).thread);
      }
    } finally {
      for (const c of open) c.close();
    }
    const counts = [...new Set(threads)].map((t) => threads.filter((x) => x === t).length);
    expect(counts, `threads ${threads.join(',')}`).to.deep.equal([2, 2]);
  });

  it('under the same uid the guard still refuses signals to hostd; the app may signal its own process group', async () => {
    const res = await request(h.url(`/p/signal?pid=${process.pid}&sig=SIGTERM`));
    expect(res.statusCode).to.equal(403);
    expect(await res.body.text()).to.equal('HOSTD_SIGNAL_REFUSED');
  });

  it('requestTimeout answers 504 and replaces the thread; the process serves on', async () => {
    const before = await who(h, '/timeout/who');
    const res = await request(h.url('/timeout/slow?ms=5000'));
    await res.body.dump();
    expect(res.statusCode).to.equal(504);
    const after = await who(h, '/timeout/who');
    expect(after.pid).to.equal(before.pid);
  });

  it("memoryLimitMb is the process's resident memory: native allocations over it replace the process", async () => {
    const before = await who(h, '/mem/who');
    const res = await request(h.url('/mem/hog?mb=256')); // a Buffer: outside the V8 heap
    await res.body.dump();
    const after = await waitFor(
      async () => {
        const w = await who(h, '/mem/who');
        return w.pid !== before.pid && w;
      },
      { what: 'a new daemon process after the memory limit', timeout: 20_000 },
    );
    expect(after.ppid).to.equal(process.pid);
    expect((await h.pool('/mem')).restarts.memory).to.be.at.least(1);
  });

  it('maxRequests recycles the thread inside the same daemon process', async () => {
    const first = await who(h, '/recycle/who');
    for (let i = 0; i < 6; i++) await who(h, '/recycle/who');
    await waitFor(async () => (await h.pool('/recycle')).restarts.maxRequests >= 1, { what: 'a recycled thread' });
    expect((await who(h, '/recycle/who')).pid).to.equal(first.pid);
  });

  it('a segfault of the daemon process costs that process only: 502 in flight, the thread pool answers throughout, the pool recovers', async () => {
    const before = await who(h);
    const other = startLoad(h.url('').replace(/\/$/, ''), ['/t'], { concurrency: 4 }); // the thread pool, throughout
    const slow = request(h.url('/p/slow?ms=3000')); // in flight on the process that crashes
    await waitFor(async () => (await h.pool('/p')).inFlight > 0, { what: 'the slow request in flight' });
    const crash = await request(h.url('/p/segfault'));
    await crash.body.dump();
    expect(crash.statusCode).to.equal(502);
    expect((await slow).statusCode).to.equal(502);
    const after = await waitFor(
      async () => {
        const w = await who(h);
        return w.pid !== before.pid && w;
      },
      { what: 'a new daemon process', timeout: 20_000 },
    );
    expect(after.ppid).to.equal(process.pid);
    const r = await other.stop();
    expect(r.errors).to.deep.equal([]);
    expect(Object.keys(r.byStatus)).to.deep.equal(['200']);
    expect(r.total).to.be.greaterThan(0);
  });

  it('process.abort() in the app ends its daemon process (502), and a new one serves', async () => {
    const before = await who(h);
    const res = await request(h.url('/p/abort'));
    await res.body.dump();
    expect(res.statusCode).to.equal(502);
    const after = await waitFor(
      async () => {
        const w = await who(h);
        return w.pid !== before.pid && w;
      },
      { what: 'a new daemon process', timeout: 20_000 },
    );
    expect(after.pid).to.be.a('number');
  });

  it('a reload under load rolls the daemon processes and drops nothing', async () => {
    const before = await who(h);
    const load = startLoad(h.url('').replace(/\/$/, ''), ['/p/', '/p/slow?ms=20', '/t'], { concurrency: 12 });
    const progress = async (n: number) => {
      const from = load.result.total;
      await waitFor(() => load.result.total >= from + n, { timeout: 20_000, what: `${n} more answers under load` });
    };
    try {
      await progress(50);
      for (let i = 0; i < 2; i++) {
        await h.host.reload();
        await progress(50);
      }
    } finally {
      await load.stop();
    }
    const r = load.result;
    expect(r.errors, r.errors.slice(0, 5).join('\n')).to.deep.equal([]);
    expect(Object.keys(r.byStatus)).to.deep.equal(['200']);
    const after = await who(h);
    expect(after.pid, 'a fresh daemon process after the roll').to.not.equal(before.pid);
  });

  it('draining (close) lets requests in flight on daemon processes finish', async () => {
    const inFlight = Array.from({ length: 6 }, () =>
      request(h.url('/p/slow?ms=800')).then(async (r) => [r.statusCode, await r.body.text()]),
    );
    await waitFor(async () => (await h.pool('/p')).inFlight >= 6, { what: 'six requests in flight' });
    const closing = h.close();
    const answers = await Promise.all(inFlight);
    await closing;
    expect(answers).to.deep.equal(Array.from({ length: 6 }, () => [200, 'slow done']));
  });
});

describe('process pools in hosts of their own', function () {
  this.timeout(60_000);

  it('startTimeout: an app whose import never settles makes its mount answer 503, its thread is ended; the rest serves', async () => {
    // The app holds a connection to this server while its thread lives.
    const dir = mkdtempSync(join(tmpdir(), 'hostd-hang-'));
    const lines: Socket[] = [];
    const server = createServer((c) => lines.push(c));
    await new Promise<void>((r) => server.listen(join(dir, 'line'), r));
    const h = await startHost([
      {
        serverName: ['*'],
        apps: [
          {
            url: '/hang',
            module: resolve('test/fixtures/contain/hang-at-load-line.mjs'),
            pool: { isolation: 'process', startTimeout: '1s', env: { HANG_LINE: join(dir, 'line') } },
          },
          { url: '/p', module: PROBE, pool: { isolation: 'process' } },
        ],
      },
    ]);
    try {
      const hang = await request(h.url('/hang'));
      await hang.body.dump();
      expect(hang.statusCode).to.equal(503);
      expect((await h.pool('/hang')).loadError).to.match(/within 1000 ms \(pool\.startTimeout\)/);
      expect((await who(h)).ppid).to.equal(process.pid);
      expect(lines.length, 'the loading thread connected').to.equal(1);
      await waitFor(() => lines[0].closed, { what: 'the thread still loading to be ended (its connection closed)' });
    } finally {
      await h.close();
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a close drains at once when a thread has served through one front only (every front hears it drained)', async function () {
    // The drain waits for each thread's `drained` on every front; a front that never sent the
    // thread a request must be connected all the same, or close() waits out gracefulTimeout.
    this.timeout(30_000);
    const h = await startHost([{ serverName: ['*'], apps: [{ url: '/p', module: PROBE, pool: { isolation: 'process', threads: 1 } }] }], {
      fronts: 2,
      gracefulTimeout: '120s',
    });
    const res = await request(h.url('/p/who'));
    expect(res.statusCode).to.equal(200);
    await res.body.dump();
    await h.close();
  });

  it("a malformed frame from a tenant's process costs that thread only: logged, the thread replaced, the front serves on", async () => {
    const log = quietLog();
    const h = await startHost(
      [
        {
          serverName: ['*'],
          apps: [
            { url: '/p', module: PROBE, pool: { isolation: 'process', threads: 1 } },
            { url: '/t', module: HELLO, pool: { threads: 1 } },
          ],
        },
      ],
      { errorLog: log },
    );
    try {
      const before = await who(h);
      const res = await request(h.url('/p/garbage'));
      await res.body.dump();
      expect(res.statusCode).to.equal(502);
      await waitFor(() => log.lines.some((l) => l.includes('malformed frame')), { what: 'the malformed frame in the error log' });
      expect((await request(h.url('/t'))).statusCode).to.equal(200);
      const after = await waitFor(
        async () => {
          const r = await request(h.url('/p/who'));
          if (r.statusCode === 200) return (await r.body.json()) as Who;
          await r.body.dump();
          return false;
        },
        { what: 'the pool serving again' },
      );
      expect(after.pid, 'the same daemon process: only the thread was replaced').to.equal(before.pid);
      // A frame that claims more than MAX_FRAME is refused at its header, before anything is held.
      const huge = await request(h.url('/p/garbage?huge'));
      await huge.body.dump();
      expect(huge.statusCode).to.equal(502);
      await waitFor(() => log.lines.some((l) => l.includes('over the limit')), { what: 'the oversized frame in the error log' });
      expect((await request(h.url('/t'))).statusCode).to.equal(200);
    } finally {
      await h.close();
    }
  });

  it('every front thread reaches the daemon process over a socket of its own', async () => {
    const h = await startHost([{ serverName: ['*'], apps: [{ url: '/p', module: PROBE, pool: { isolation: 'process', threads: 1 } }] }], {
      fronts: 2,
    });
    try {
      // Fresh connections: the kernel spreads them over both fronts' listening sockets.
      const answers = await Promise.all(
        Array.from({ length: 40 }, async () => {
          const res = await request(h.url('/p/echo'), { method: 'POST', body: 'x'.repeat(5000), reset: true });
          return [res.statusCode, (await res.body.text()).length];
        }),
      );
      expect(answers).to.deep.equal(Array.from({ length: 40 }, () => [200, 5000]));
      const fronts = (await h.status()) as unknown as { fronts: Array<{ requests: number }> };
      expect(fronts.fronts.filter((f) => f.requests > 0).length, 'both fronts served').to.equal(2);
    } finally {
      await h.close();
    }
  });
});
