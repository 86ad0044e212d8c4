// The drain under keep-alive load (issue 9, item 7): once SIGTERM arrives, requests on open
// keep-alive connections are still served, with Connection: close, until nothing is in flight;
// none gets 404 (routing tables cleared too early did that) or 503, none is dropped or cut
// mid-response; hostd exits 0. Clients are raw sockets that behave like keep-alive clients.
import { expect } from 'chai';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startCli } from './fixtures/contain/proc.js';
import { keepAliveClient, newTally, poll, VICTIM_APP } from './fixtures/contain/net.js';

async function site(port: number): Promise<{ root: string; dir: string }> {
  const root = await mkdtemp(join(tmpdir(), 'hostd-contain-drain-'));
  const dir = join(root, 'sites');
  await mkdir(dir);
  await mkdir(join(root, 'www'));
  await writeFile(join(root, 'www', 'a.txt'), 'static a\n'.repeat(100));
  await writeFile(
    join(dir, 'a.yaml'),
    `serverName: ["*"]\nlisten: "127.0.0.1:${port}"\nstatic: [{ url: /s, dir: ../www }]\napps: [{ url: /app, module: ${JSON.stringify(VICTIM_APP)}, pool: { threads: 2 } }]\n`,
  );
  return { root, dir };
}

const REQUESTS = [
  'GET /app/hello HTTP/1.1\r\nHost: a.test\r\n\r\n',
  'GET /app/slow?ms=30 HTTP/1.1\r\nHost: a.test\r\n\r\n',
  'GET /s/a.txt HTTP/1.1\r\nHost: a.test\r\n\r\n',
  `POST /app/echo HTTP/1.1\r\nHost: a.test\r\nContent-Length: 1024\r\n\r\n${'x'.repeat(1024)}`,
];

const SLOW = 'GET /app/slow?ms=300 HTTP/1.1\r\nHost: a.test\r\n\r\n';

describe('contain: SIGTERM under keep-alive load', function () {
  this.timeout(90_000);

  for (const fronts of [1, 2]) {
    it(`--fronts ${fronts}: every request hostd took is answered 2xx (Connection: close once draining), none dropped or cut; exit 0`, async () => {
      const port = await freePort();
      const s = await site(port);
      const hostd = startCli([
        '--sites',
        s.dir,
        '--no-supervisor',
        '--access-log',
        'off',
        '--graceful-timeout',
        '20s',
        '--fronts',
        String(fronts),
      ]);
      try {
        await hostd.waitFor(/listening address=/);
        const tally = newTally();
        let i = 0;
        // 8 busy clients and 8 that idle between requests (so they send during the drain), with
        // requests that take 300 ms among them (so there is a drain to send during).
        const clients = Array.from({ length: 16 }, (_, c) =>
          keepAliveClient(
            port,
            () => (i++ % 50 === 0 ? SLOW : REQUESTS[(i + c) % REQUESTS.length]),
            tally,
            () => false,
            60_000,
            c < 8 ? 0 : 200,
          ),
        );
        await poll(() => tally.requests >= 2000, 'load under way', 30_000);
        const before = tally.requests;
        hostd.proc.kill('SIGTERM');
        const code = await hostd.exited;
        await Promise.all(clients);
        console.log(
          `      ${tally.requests} requests (${tally.requests - before} after SIGTERM), statuses ${JSON.stringify(tally.statuses)}, ${tally.closeAnswers} answered with Connection: close, ${tally.refused} connections refused`,
        );
        expect(code).to.equal(0);
        expect(tally.errors).to.deep.equal([]);
        expect(tally.dropped, 'requests sent on an open keep-alive connection that got no answer').to.equal(0);
        expect(tally.midResponse, 'responses cut mid-way').to.equal(0);
        expect(Object.keys(tally.statuses)).to.deep.equal(['200']);
        // Every client ended because hostd stopped accepting, after an answer that said close.
        expect(tally.refused).to.equal(16);
        expect(tally.closeAnswers).to.be.at.least(16);
      } finally {
        await hostd.stop('SIGKILL');
        await rm(s.root, { recursive: true, force: true });
      }
    });
  }

  it('after a reload that removed a mount, SIGTERM does not wait for --graceful-timeout', async () => {
    // (The retired pool's workers said drained, but the report was dropped: the pool, and with
    // it the drain, waited for its whole graceful timeout.)
    const port = await freePort();
    const s = await site(port);
    const hostd = startCli(['--sites', s.dir, '--no-supervisor', '--access-log', 'off', '--graceful-timeout', '60s']);
    try {
      await hostd.waitFor(/listening address=/);
      await writeFile(
        join(s.dir, 'a.yaml'),
        `serverName: ["*"]\nlisten: "127.0.0.1:${port}"\napps: [{ url: /other, module: ${JSON.stringify(VICTIM_APP)}, pool: { threads: 1 } }]\n`,
      );
      hostd.proc.kill('SIGHUP');
      await hostd.waitFor(/reloaded generation=2/);
      const t0 = performance.now();
      expect(await hostd.stop('SIGTERM')).to.equal(0);
      expect(performance.now() - t0, 'ms from SIGTERM to exit').to.be.below(20_000);
    } finally {
      await hostd.stop('SIGKILL');
      await rm(s.root, { recursive: true, force: true });
    }
  });
});
