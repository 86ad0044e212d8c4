// Backpressure both ways, and the idle reaper: a slow reader holds back the producer instead of
// hostd buffering the difference.
import { expect } from 'chai';
import { resolve } from 'node:path';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { quietLog, startHost, type TestHost } from './helpers/host.js';

const KITCHEN = resolve('test/fixtures/apps/kitchen.mjs');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MB = 1024 * 1024;

describe('daemon pool: backpressure and idle reaping', function () {
  this.timeout(30000);
  let h: TestHost;

  before(async () => {
    h = await startHost(
      [{ serverName: ['*'], apps: [{ url: '/', module: KITCHEN, maxBodySize: 512 * MB, pool: { threads: 1 } }] }],
      { errorLog: quietLog() },
    );
  });
  after(async () => {
    await h?.close();
  });

  it('a slow client slows the app stream (response backpressure)', async () => {
    const total = 64 * MB;
    const res = await request(h.url(`/pull?n=${total}`));
    expect(res.statusCode).to.equal(200);
    const it = res.body[Symbol.asyncIterator]();
    let got = ((await it.next()).value as Buffer).byteLength;
    await sleep(600);
    const { produced } = (await (await request(h.url('/produced'))).body.json()) as { produced: number };
    // Window (1 MiB) + socket buffers: far below the 64 MiB an unthrottled app would have made.
    expect(produced).to.be.below(24 * MB);
    for (;;) {
      const r = await it.next();
      if (r.done) break;
      got += (r.value as Buffer).byteLength;
    }
    expect(got).to.equal(total);
  });

  it('an app that does not read holds back the upload (request backpressure)', async () => {
    const total = 64 * MB;
    let sent = 0;
    const chunk = Buffer.alloc(MB, 7);
    async function* gen() {
      while (sent < total) {
        sent += chunk.byteLength;
        yield chunk;
      }
    }
    const p = request(h.url('/hold?ms=800'), { method: 'POST', body: Readable.from(gen()) });
    await sleep(600);
    expect(sent).to.be.below(24 * MB);
    const res = await p;
    expect(res.statusCode).to.equal(200);
    expect(((await res.body.json()) as { bytes: number }).bytes).to.equal(total);
  });

  it('reaps idle workers down to minThreads', async () => {
    const log = quietLog();
    const h2 = await startHost(
      [{ serverName: ['*'], apps: [{ url: '/', module: KITCHEN, pool: { threads: 3, minThreads: 1, idleTimeout: '300ms' } }] }],
      { errorLog: log },
    );
    try {
      const threads = async () => ((await h2.host.status()).hosts[0].mounts[0] as { pool: { threads: number } }).pool.threads;
      expect(await threads()).to.equal(3);
      await sleep(1200);
      expect(await threads()).to.equal(1);
      // Still serving, and load beyond one worker's concurrency (64) brings workers back.
      const burst = Promise.all(Array.from({ length: 80 }, () => request(h2.url('/slow?ms=400')).then(async (r) => (await r.body.text(), r.statusCode))));
      await sleep(200);
      expect(await threads()).to.be.above(1);
      const rs = await burst;
      expect(rs.every((s) => s === 200)).to.equal(true);
    } finally {
      await h2.close();
    }
  });
});
