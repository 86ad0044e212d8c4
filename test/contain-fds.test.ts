// Out of file descriptors (issue 9, item 9): with `prlimit --nofile=256:256` and 400 clients,
// hostd stops accepting at (or, without a burst, a little before) the limit, and the kernel
// refuses new connections meanwhile, instead of spinning in accept() at 100% of a core; the
// status listener keeps answering, static misses answer (503 with Retry-After when there really
// is no descriptor, never 500), the pause is counted in /metrics, and accepting resumes once
// descriptors are free.
import { expect } from 'chai';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, get, startCli } from './fixtures/contain/proc.js';
import { cpuTicks, exchange, poll, RawConn, sleep, VICTIM_APP } from './fixtures/contain/net.js';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

async function site(port: number): Promise<{ root: string; dir: string }> {
  const root = await mkdtemp(join(tmpdir(), 'hostd-contain-fds-'));
  const dir = join(root, 'sites');
  await mkdir(dir);
  await mkdir(join(root, 'www'));
  for (let i = 0; i < 20; i++) await writeFile(join(root, 'www', `f${i}.txt`), `file ${i}\n`);
  await writeFile(
    join(dir, 'a.yaml'),
    `serverName: ["*"]\nlisten: "127.0.0.1:${port}"\nstatic: [{ url: /s, dir: ../www }]\napps: [{ url: /app, module: ${JSON.stringify(VICTIM_APP)}, pool: { threads: 1 } }]\n`,
  );
  return { root, dir };
}

/** The front's CPU use (all of hostd's threads), as a fraction of one core, over `ms`. */
async function cpuShare(pid: number, ms: number): Promise<number> {
  const t0 = performance.now();
  const c0 = cpuTicks(pid);
  await sleep(ms);
  return (cpuTicks(pid) - c0) / TICKS_PER_SECOND / ((performance.now() - t0) / 1000);
}

const metric = (text: string, name: string) => Number(new RegExp(`^${name} ([0-9.]+)$`, 'm').exec(text)?.[1] ?? NaN);

describe('contain: out of file descriptors (prlimit --nofile=256:256)', function () {
  this.timeout(90_000);

  it('400 clients: accepting pauses near the limit without spinning; status and static misses answer; counted in /metrics; accepting resumes', async () => {
    const port = await freePort();
    const s = await site(port);
    const hostd = startCli(['--sites', s.dir, '--no-supervisor', '--access-log', 'off', '--status', '127.0.0.1:0'], {
      prefix: ['prlimit', '--nofile=256:256'],
    });
    const clients: RawConn[] = [];
    try {
      await hostd.waitFor(/listening address=/);
      await hostd.waitFor(/status endpoint/);
      const status = /status endpoint status=(http:\/\/[^\s]+)\/status/.exec(hostd.stderr())![1].replace(/\/status$/, '');
      const pid = hostd.proc.pid!;
      expect((await get(`http://127.0.0.1:${port}/app/hello`)).status).to.equal(200);
      expect((await get(`http://127.0.0.1:${port}/s/f0.txt`)).status).to.equal(200); // now in the memory cache

      // 400 keep-alive clients, each sending a request and then holding its connection.
      for (let i = 0; i < 400; i++) clients.push(new RawConn(port).send('GET /s/f0.txt HTTP/1.1\r\nHost: a\r\n\r\n'));
      await hostd.waitFor(/error out of file descriptors: not accepting connections for now/, 20_000);
      await poll(() => clients.filter((c) => c.isClosed || c.text !== '').length === 400, 'every client answered or refused', 20_000);
      const answered = clients.filter((c) => c.text.startsWith('HTTP/1.1 200')).length;
      // The burst can take the last descriptors before hostd looks: a file that cannot be opened
      // then is a 503 with Retry-After.
      const unavailable = clients.filter((c) => c.responses[0]?.status === 503 && c.responses[0].headers['retry-after'] === '1').length;
      const refused = clients.filter((c) => c.isClosed && c.text === '').length;
      // Some were refused by the kernel (hostd was not accepting), and none was left hanging.
      expect(refused).to.be.above(0);
      expect(answered + unavailable + refused).to.equal(400);

      // Not spinning: hostd (every thread) uses far less than a core while clients keep trying.
      const retry = setInterval(() => {
        for (let i = 0; i < 20; i++) new RawConn(port).socket.on('error', () => undefined);
      }, 50);
      const share = await cpuShare(pid, 2000).finally(() => clearInterval(retry));
      console.log(
        `      ${answered} answered 200, ${unavailable} 503, ${refused} refused by the kernel; hostd CPU while paused: ${(share * 100).toFixed(0)}% of a core`,
      );
      expect(share).to.be.below(0.5);

      // The status listener answers (it keeps its own listen socket).
      expect((await get(`${status}/healthz`)).status).to.equal(200);
      const metrics = (await get(`${status}/metrics`)).text;
      expect(metric(metrics, 'hostd_accept_paused_total'), metrics.slice(0, 300)).to.be.at.least(1);
      expect(metric(metrics, 'hostd_open_fds')).to.be.above(200);
      // A static miss on a connection already open: served, or 503 + Retry-After if the burst took
      // the very last descriptor; never 500.
      const open = clients.find((c) => !c.isClosed)!;
      open.send('GET /s/f5.txt HTTP/1.1\r\nHost: a\r\n\r\n');
      await open.responsesIn(2);
      const miss = open.responses[1];
      expect([200, 503]).to.include(miss.status);
      if (miss.status === 503) expect(miss.headers['retry-after']).to.equal('1');

      // The clients go: accepting resumes, and a new connection is served.
      for (const c of clients) c.destroy();
      await hostd.waitFor(/file descriptors available again: accepting connections/, 20_000);
      const r = await poll(async () => (await get(`http://127.0.0.1:${port}/s/f1.txt`)).status === 200, 'served again', 20_000);
      expect(r).to.equal(true);
      const after = (await get(`${status}/metrics`)).text;
      expect(metric(after, 'hostd_accept_paused_seconds_total')).to.be.above(0);
      expect(await hostd.stop()).to.equal(0);
    } finally {
      for (const c of clients) c.destroy();
      await hostd.stop('SIGKILL');
      await rm(s.root, { recursive: true, force: true });
    }
  });

  it('an app that takes every descriptor: static misses get 503 with Retry-After (not 500), and all is well once it lets go', async () => {
    const port = await freePort();
    const s = await site(port);
    const hostd = startCli(['--sites', s.dir, '--no-supervisor', '--access-log', 'off'], { prefix: ['prlimit', '--nofile=256:256'] });
    try {
      await hostd.waitFor(/listening address=/);
      // A keep-alive connection opened first: it needs no new descriptor to be answered.
      const conn = await exchange(port, 'GET /app/hello HTTP/1.1\r\nHost: a\r\n\r\n');
      conn.send('GET /app/hog-fds HTTP/1.1\r\nHost: a\r\n\r\n');
      await conn.responsesIn(2);
      expect(JSON.parse(conn.responses[1].body)).to.include({ error: 'EMFILE' });
      conn.send('GET /s/f2.txt HTTP/1.1\r\nHost: a\r\n\r\n');
      await conn.responsesIn(3);
      const miss = conn.responses[2];
      expect(miss.status).to.equal(503);
      expect(miss.headers['retry-after']).to.equal('1');
      await hostd.waitFor(/static: open: EMFILE/);
      conn.send('GET /app/free-fds HTTP/1.1\r\nHost: a\r\n\r\n');
      await conn.responsesIn(4);
      conn.send('GET /s/f2.txt HTTP/1.1\r\nHost: a\r\n\r\n');
      await conn.responsesIn(5);
      expect(conn.responses[4].status).to.equal(200);
      conn.destroy();
      expect(await hostd.stop()).to.equal(0);
    } finally {
      await hostd.stop('SIGKILL');
      await rm(s.root, { recursive: true, force: true });
    }
  });
});
