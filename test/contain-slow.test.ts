// Slow request bodies (issue 9, item 8): 150 clients sending a body at a byte every 300 ms must
// not hold a pool's worker slots and queue. Bodies are read by the front up to bufferBody before
// the request takes a worker; a body slower than bufferBody per bodyTimeout gets 408. The attack
// is run first with bufferBody 0 (the old behaviour: a request takes a worker at once), where it
// starves an innocent request, then with the defaults, where it does not.
import { expect } from 'chai';
import { request } from 'undici';
import type { AppMountConfig } from '../shared/config/types.js';
import { quietLog, startHost, type TestHost } from './helpers/host.js';
import { parseResponses, poll, RawConn, VICTIM_APP } from './fixtures/contain/net.js';

const SLOW_CLIENTS = 150;

/** 150 uploads of a 10,000-byte body, one byte per client every 300 ms (one timer for all). */
function slowUploads(port: number) {
  const conns = Array.from({ length: SLOW_CLIENTS }, () =>
    new RawConn(port).send('POST /app/echo HTTP/1.1\r\nHost: a.test\r\nContent-Type: text/plain\r\nContent-Length: 10000\r\n\r\n'),
  );
  let sent = 0;
  const timer = setInterval(() => {
    for (const c of conns) if (!c.isClosed && c.text === '') c.send('x');
    sent++;
  }, 300);
  return {
    conns,
    bytesSent: () => sent,
    stop: () => {
      clearInterval(timer);
      for (const c of conns) c.destroy();
    },
  };
}

async function pool(h: TestHost) {
  const m = (await h.host.status()).hosts[0].mounts.find((x) => x.url === '/app')!;
  return (m as { pool: { queued: number; inFlight: number; busy: number } }).pool;
}

describe('contain: slow request bodies', function () {
  this.timeout(60_000);

  async function run(app: Partial<AppMountConfig>, attack = true) {
    const log = quietLog();
    const h = await startHost(
      [{ serverName: ['*'], apps: [{ url: '/app', module: VICTIM_APP, ...app, pool: { threads: 1, queueTimeout: '1s', ...app.pool } }] }],
      { errorLog: log },
    );
    const slow = attack ? slowUploads(h.port) : null;
    return { h, slow: slow!, log };
  }

  it('reproduced with bufferBody 0: the uploads hold all 64 slots of the worker, and an innocent request behind them times out in the queue (503)', async () => {
    const { h, slow } = await run({ bufferBody: 0, bodyTimeout: '60s' });
    try {
      await poll(async () => (await pool(h)).queued >= SLOW_CLIENTS - 64, 'slow uploads queued behind the 64 slots');
      const res = await request(h.url('/app/hello'));
      expect(res.statusCode).to.equal(503);
      await res.body.dump();
    } finally {
      slow.stop();
      await h.close();
    }
  });

  it('with the defaults (bufferBody 64k) and bodyTimeout 2s: no slot is taken, an innocent request is answered while they upload, and every slow client gets 408', async () => {
    const { h, slow, log } = await run({ bodyTimeout: '2s' });
    try {
      await poll(() => slow.bytesSent() >= 2, 'every upload under way');
      const t0 = performance.now();
      const res = await request(h.url('/app/hello'));
      const innocentMs = performance.now() - t0;
      expect(res.statusCode).to.equal(200);
      expect(await res.body.text()).to.equal('hello');
      // Answered while every slow client was still uploading, none of them holding a worker.
      expect(slow.conns.filter((c) => c.text !== '')).to.have.length(0);
      const p = await pool(h);
      expect(p.inFlight).to.equal(0);
      expect(p.queued).to.equal(0);
      console.log(`      innocent request answered in ${innocentMs.toFixed(1)} ms among ${SLOW_CLIENTS} slow uploads`);

      await Promise.all(slow.conns.map((c) => c.closed));
      const statuses = slow.conns.map((c) =>
        parseResponses(c.text)
          .map((r) => r.status)
          .join(','),
      );
      expect(new Set(statuses)).to.deep.equal(new Set(['408']));
      expect(log.lines.filter((l) => /request body too slow: 408/.test(l))).to.have.length(SLOW_CLIENTS);
      // The app never saw one of them.
      const seen = (await (await request(h.url('/app/seen'))).body.json()) as string[];
      expect(seen.filter((s) => s === '/echo')).to.deep.equal([]);
    } finally {
      slow.stop();
      await h.close();
    }
  });

  it('a body that arrives at a normal pace is read, then takes a worker (bodies over bufferBody stream to it)', async () => {
    const { h } = await run({ bodyTimeout: '2s' }, false);
    try {
      for (const size of [10, 64 * 1024, 1024 * 1024]) {
        const res = await request(h.url('/app/echo'), { method: 'POST', body: Buffer.alloc(size, 'y') });
        expect(res.statusCode).to.equal(200);
        expect(await res.body.json()).to.deep.equal({ bytes: size });
      }
    } finally {
      await h.close();
    }
  });
});
