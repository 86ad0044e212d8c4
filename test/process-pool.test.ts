// pool.isolation: process (daemon/process): the app's worker threads run in daemon processes of
// their own, reached over Unix sockets with the same protocol tables. The other pool in each host
// is a thread pool: what happens to one process must not reach it.
import { expect } from 'chai';
import { resolve } from 'node:path';
import { request } from 'undici';
import { startHost, type TestHost, waitFor } from './helpers/index.js';

const PROBE = resolve('test/fixtures/apps/process-probe.mjs');
const HELLO = resolve('test/fixtures/apps/hello.mjs');

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

  it('streams a POST body both ways through the socket', async () => {
    const body = Buffer.alloc(3 * 1024 * 1024, 7);
    const res = await request(h.url('/p/echo'), { method: 'POST', body });
    expect(res.statusCode).to.equal(200);
    const got = Buffer.from(await res.body.arrayBuffer());
    expect(got.length).to.equal(body.length);
    expect(got.equals(body)).to.equal(true);
  });

  it('a segfault of the daemon process costs that process only: 502 in flight, the thread pool answers throughout, the pool recovers', async () => {
    const before = await who(h);
    const slow = request(h.url('/p/slow?ms=3000')); // in flight on the process that crashes
    await waitFor(async () => (await h.pool('/p')).inFlight > 0, { what: 'the slow request in flight' });
    const crash = await request(h.url('/p/segfault'));
    await crash.body.dump();
    expect(crash.statusCode).to.equal(502);
    expect((await slow).statusCode).to.equal(502);
    const t = await request(h.url('/t'));
    expect(t.statusCode).to.equal(200);
    await t.body.dump();
    const after = await waitFor(
      async () => {
        const w = await who(h);
        return w.pid !== before.pid && w;
      },
      { what: 'a new daemon process', timeout: 20_000 },
    );
    expect(after.ppid).to.equal(process.pid);
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
});
