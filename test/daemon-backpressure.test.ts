// Backpressure both ways, and the idle reaper: a slow reader holds back the producer instead of
// hostd buffering the difference.
import { Readable } from 'node:stream';
import { expect } from 'chai';
import { request } from 'undici';
import { KITCHEN, quietLog, releaseHeld, sleep, startHost, type TestHost, waitFor } from './helpers/index.js';

const MB = 1024 * 1024;

/** A slow reader of a 64 MiB streamed response holds the app back to the window, then gets it all. */
async function expectResponseBackpressure(h: TestHost): Promise<void> {
  const total = 64 * MB;
  const res = await request(h.url(`/pull?n=${total}`));
  expect(res.statusCode).to.equal(200);
  const it = res.body[Symbol.asyncIterator]();
  let got = ((await it.next()).value as Buffer).byteLength;
  // Time is the feature: an unthrottled app would produce all 64 MiB while this reader waits.
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
}

/**
 * Uploads up to 64 MiB to /hold?key=`key` (the app does not read): what the client could send
 * stays far below that. Returns the request, still held (wrapped: an async function's promise
 * would wait for it).
 */
async function expectUploadHeldBack(h: TestHost, key: string, signal?: AbortSignal) {
  let sent = 0;
  const chunk = Buffer.alloc(MB, 7);
  async function* gen() {
    while (sent < 64 * MB) {
      sent += chunk.byteLength;
      yield chunk;
    }
  }
  const p = request(h.url(`/hold?key=${key}`), { method: 'POST', body: Readable.from(gen()), signal });
  await waitFor(async () => (await h.pool('/')).inFlight === 1, { what: 'the upload in the worker' });
  // Time is the feature: an unthrottled upload would send all 64 MiB while the app does not read.
  await sleep(600);
  expect(sent).to.be.below(24 * MB);
  return { held: p };
}

describe('daemon pool: backpressure and idle reaping', function () {
  this.timeout(30000);
  let h: TestHost;

  before(async () => {
    h = await startHost([{ serverName: ['*'], apps: [{ url: '/', module: KITCHEN, maxBodySize: 512 * MB, pool: { threads: 1 } }] }], {
      errorLog: quietLog(),
    });
  });
  after(async () => {
    await h?.close();
  });

  it('a slow client slows the app stream (response backpressure)', async () => {
    await expectResponseBackpressure(h);
  });

  it('an app that does not read holds back the upload (request backpressure)', async () => {
    const { held } = await expectUploadHeldBack(h, 'upload');
    releaseHeld('upload');
    const res = await held;
    expect(res.statusCode).to.equal(200);
    expect(((await res.body.json()) as { bytes: number }).bytes).to.equal(64 * MB);
  });

  describe('through a process pool (isolation: process: the same credit windows over a Unix socket)', () => {
    let hp: TestHost;
    before(async () => {
      hp = await startHost(
        [{ serverName: ['*'], apps: [{ url: '/', module: KITCHEN, maxBodySize: 512 * MB, pool: { threads: 1, isolation: 'process' } }] }],
        // (the held upload is never released: the close cuts it after a second)
        { errorLog: quietLog(), gracefulTimeout: '1s' },
      );
    });
    after(async () => {
      await hp?.close();
    });

    it('a slow client slows the app stream', async () => {
      await expectResponseBackpressure(hp);
    });

    it('an app that does not read holds back the upload', async () => {
      const ac = new AbortController();
      const { held } = await expectUploadHeldBack(hp, 'never', ac.signal);
      ac.abort(); // (the kitchen's release channel does not reach a daemon process)
      await held.catch(() => null);
    });
  });

  it('reaps idle workers down to minThreads, and starts them again under load', async () => {
    const log = quietLog();
    const h2 = await startHost(
      [{ serverName: ['*'], apps: [{ url: '/', module: KITCHEN, pool: { threads: 3, minThreads: 1, idleTimeout: '300ms' } }] }],
      { errorLog: log },
    );
    const threads = async () => (await h2.pool('/')).threads;
    try {
      await waitFor(async () => (await threads()) === 1, { what: 'the idle workers to be reaped' });
      // Load beyond one worker's concurrency (64) brings workers back; /held keeps every request
      // running until the workers are counted.
      const burst = Promise.all(
        Array.from({ length: 80 }, () =>
          request(h2.url('/held?key=burst')).then(async (r) => {
            await r.body.text();
            return r.statusCode;
          }),
        ),
      );
      await waitFor(
        async () => {
          const pool = await h2.pool('/');
          return pool.threads > 1 && pool.inFlight === 80;
        },
        { what: 'workers started for the burst, every request in one' },
      );
      releaseHeld('burst');
      const rs = await burst;
      expect(rs.every((s) => s === 200)).to.equal(true);
      await waitFor(async () => (await threads()) === 1, { what: 'the burst workers to be reaped again' });
    } finally {
      await h2.close();
    }
  });
});
