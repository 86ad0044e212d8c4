// docs/deploy.md "Varnish": the recipe examples/deploy/varnish/hostd.vcl run by the real Varnish 7
// in front of hostd (the built CLI). Static files (maxAge) and s-maxage app responses are served
// by Varnish after the first request; expired copies are revalidated with hostd's validators
// (hostd answers 304); one PURGE reaches hostd and then empties Varnish's copy; WebSocket upgrades
// are piped to hostd with the client's address in X-Forwarded-For.
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, Pool, request } from 'undici';
import { ROOT, spawnHostd, type HostdProcess } from './helpers/host.js';
import {
  CONVERSED,
  converse,
  fillRecipe,
  freePort,
  openWs,
  pollUntil,
  requireBinary,
  startVarnish,
  type VarnishProcess,
} from './helpers/proxies.js';

const SITE = join(ROOT, 'test/fixtures/deploy/site.yaml');

describe('deploy: Varnish 7 in front of hostd (examples/deploy/varnish/hostd.vcl)', function () {
  this.timeout(90_000);
  let hostd: HostdProcess;
  let varnish: VarnishProcess;
  let dir: string;
  let pool: Pool;
  let port: number;
  let statusPort: number;

  const accessLines = () => readFileSync(join(dir, 'access.log'), 'utf8').split('\n').filter(Boolean);
  /** hostd's access log lines for `method path` (combined format: client - - [time] "METHOD path HTTP/1.1" status ...). */
  const hostdSaw = (method: string, path: string) => accessLines().filter((l) => l.includes(`"${method} ${path} HTTP/1.1"`));
  const statusOf = (line: string) => Number(/" (\d{3}) /.exec(line)?.[1]);

  before(async function () {
    const bin = requireBinary(this, 'varnishd', 'varnish');
    dir = mkdtempSync(join(tmpdir(), 'hostd-deploy-varnish-'));
    hostd = await spawnHostd([
      '--sites',
      SITE,
      '--listen',
      '127.0.0.1:0',
      '--status',
      '127.0.0.1:0',
      '--trust-proxy',
      '127.0.0.1',
      '--access-log',
      join(dir, 'access.log'),
    ]);
    await hostd.waitFor(/status endpoint status=http:\/\/127\.0\.0\.1:\d+\//);
    statusPort = Number(/status endpoint status=http:\/\/127\.0\.0\.1:(\d+)\//.exec(hostd.stderr())![1]);
    port = await freePort();
    const vcl = fillRecipe('varnish/hostd.vcl', {
      '.port = "8080";': `.port = "${hostd.port}";`,
      '.port = "9090";': `.port = "${statusPort}";`,
    });
    // pipe_timeout as the recipe's comment says to start varnishd (for WebSockets).
    varnish = await startVarnish(bin, vcl, port, ['pipe_timeout=90']);
    pool = new Pool(`http://127.0.0.1:${port}`, { connections: 8 });
  });

  after(async () => {
    await pool?.close();
    await varnish?.stop();
    await hostd?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function get(path: string, dispatcher: Pool | Agent = pool) {
    const r = await (dispatcher === pool
      ? pool.request({ path, method: 'GET', headers: { host: 'example.test' } })
      : request(`http://127.0.0.1:${port}${path}`, { headers: { host: 'example.test' }, dispatcher }));
    const body = await r.body.text();
    return { status: r.statusCode, body, cache: String(r.headers['x-cache'] ?? '') };
  }

  it('a mixed run of static files and s-maxage app responses: >= 95% hits, one hostd fetch per URL', async () => {
    const urls = [...Array.from({ length: 10 }, (_, i) => `/static/f${i}.txt`), ...Array.from({ length: 10 }, (_, i) => `/cached/${i}`)];
    const before = varnish.stats();
    const total = 1000;
    let next = 0;
    const failures: string[] = [];
    let hits = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < total) {
          const url = urls[next++ % urls.length];
          const r = await get(url);
          if (r.status !== 200) failures.push(`${url}: ${r.status}`);
          if (r.cache === 'HIT') hits++;
        }
      }),
    );
    expect(failures).to.deep.equal([]);
    // Varnish's workers add their counters to the shared ones in batches: poll until all are in.
    const counted = () => {
      const after = varnish.stats();
      return { hit: after['MAIN.cache_hit'] - before['MAIN.cache_hit'], miss: after['MAIN.cache_miss'] - before['MAIN.cache_miss'] };
    };
    await pollUntil('varnishstat to count every request', () => counted().hit + counted().miss >= total);
    const { hit, miss } = counted();
    expect(hit + miss).to.equal(total);
    const ratio = hit / (hit + miss);
    expect(ratio, `varnishstat: ${hit} hits, ${miss} misses`).to.be.at.least(0.95);
    expect(hits / total, 'X-Cache: HIT share seen by the client').to.be.at.least(0.95);
    // hostd saw each URL once: the rest came from Varnish.
    await pollUntil('hostd access log lines for the run', () => urls.every((u) => hostdSaw('GET', u).length >= 1));
    for (const u of urls) expect(hostdSaw('GET', u).length, u).to.equal(1);
  });

  it("an expired copy is revalidated with hostd's validators: hostd answers Varnish 304", async () => {
    // /short serves the same files with maxAge: 1, so Varnish's copy expires after a second and
    // (kept by beresp.keep) is refreshed with a conditional request.
    const path = '/short/f7.txt';
    const first = await get(path);
    expect(first.status).to.equal(200);
    const before = varnish.stats()['MAIN.fetch_304'] ?? 0;
    const line = await pollUntil(
      'a 304 from hostd to Varnish',
      async () => {
        const r = await get(path);
        expect(r.status).to.equal(200);
        expect(r.body).to.equal(first.body);
        return hostdSaw('GET', path).find((l) => statusOf(l) === 304);
      },
      20_000,
      100,
    );
    expect(line.split(' ')[0]).to.equal('127.0.0.1'); // Varnish itself: its own request
    expect(hostdSaw('GET', path).filter((l) => statusOf(l) === 200)).to.have.length(1);
    await pollUntil('varnishstat MAIN.fetch_304 to count it', () => varnish.stats()['MAIN.fetch_304'] > before);
  });

  it("PURGE from a trusted address goes to hostd's status listener first, then empties Varnish; from elsewhere it is refused", async () => {
    const path = '/cached/purge-me?a=1&b=2+3';
    expect((await get(path)).cache).to.equal('MISS');
    expect((await get(path)).cache).to.equal('HIT');
    const untrusted = new Agent({ localAddress: '127.0.0.2' });
    try {
      const denied = await request(`http://127.0.0.1:${port}${path}`, {
        method: 'PURGE',
        headers: { host: 'example.test' },
        dispatcher: untrusted,
      });
      await denied.body.text();
      expect(denied.statusCode).to.equal(405);
      expect((await get(path)).cache).to.equal('HIT');
    } finally {
      await untrusted.close();
    }
    const purge = await request(`http://127.0.0.1:${port}${path}`, { method: 'PURGE', headers: { host: 'example.test' } });
    await purge.body.text();
    expect(purge.statusCode).to.equal(200);
    // Tier 1: Varnish's X-Hostd-Purge is the status hostd's status listener gives that very request
    // (200 with the count purged; 503 would mean Varnish never reached it).
    const direct = await request(`http://127.0.0.1:${statusPort}/cache/purge?url=${encodeURIComponent(path)}`, {
      method: 'POST',
      headers: { host: 'example.test' },
    });
    await direct.body.text();
    expect(direct.statusCode).to.equal(200);
    expect(purge.headers['x-hostd-purge']).to.equal(String(direct.statusCode));
    // ...and the request Varnish sent names the purged URL (as varnishlog recorded it).
    const sent = varnish.backendRequests().filter((b) => b.method === 'POST');
    expect(sent).to.have.length(1);
    expect(new URL(sent[0].url, 'http://x').pathname).to.equal('/cache/purge');
    expect(new URL(sent[0].url, 'http://x').searchParams.get('url')).to.equal(path);
    expect(sent[0].status).to.equal(direct.statusCode);
    // Tier 2: Varnish's copy is gone; the next GET goes to hostd again.
    const again = await get(path);
    expect(again.cache).to.equal('MISS');
    await pollUntil('a second GET from Varnish to hostd', () => hostdSaw('GET', path).length === 2);
  });

  it('WebSockets are piped to hostd: messages both ways, close codes, the client address from X-Forwarded-For', async () => {
    const pipes = () => varnish.stats()['MAIN.s_pipe'] ?? 0;
    const before = pipes();
    const a = await openWs(`ws://127.0.0.1:${port}/ws`, 'a', '127.0.0.3');
    const b = await openWs(`ws://127.0.0.1:${port}/ws`, 'b', '127.0.0.4');
    // Varnish's X-Forwarded-For goes along with the piped upgrade; hostd trusts Varnish's address.
    expect([a.hello.remote, b.hello.remote]).to.deep.equal(['127.0.0.3', '127.0.0.4']);
    expect(await converse(a.client, b.client)).to.deep.equal(CONVERSED);
    await pollUntil('varnishstat MAIN.s_pipe to count both upgrades', () => pipes() - before >= 2);
    expect(pipes() - before).to.equal(2);
    // hostd logs each socket when it closes, with status 101 and the client's address.
    for (const [name, client] of [
      ['a', '127.0.0.3'],
      ['b', '127.0.0.4'],
    ]) {
      const line = await pollUntil(`the access log line of socket ${name}`, () => hostdSaw('GET', `/ws?name=${name}`)[0]);
      expect(statusOf(line)).to.equal(101);
      expect(line.split(' ')[0]).to.equal(client);
    }
  });
});
