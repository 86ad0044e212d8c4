// docs/deploy.md "nginx": the recipe examples/deploy/nginx/hostd.conf run by the real nginx in
// front of two hostd processes (the built CLI). Under steady keep-alive load through nginx,
// SIGKILL of one instance and a rolling SIGHUP of both cost the client nothing; X-Forwarded-For
// and -Proto are believed from nginx's address only; ordinary requests reuse upstream connections;
// WebSockets are upgraded through nginx on either instance, and an upgrade fails over too.
import { expect } from 'chai';
import { join } from 'node:path';
import { Agent, Pool, request } from 'undici';
import { ROOT, spawnHostd, type HostdProcess } from './helpers/host.js';
import {
  CONVERSED,
  connectionsTo,
  converse,
  fillRecipe,
  freePort,
  openWs,
  requireBinary,
  startNginx,
  type ServerProcess,
} from './helpers/proxies.js';

const SITE = join(ROOT, 'test/fixtures/deploy/site.yaml');

interface Echo {
  pid: number;
  remote: string;
  url: string;
}

async function startPair(): Promise<HostdProcess[]> {
  return Promise.all(
    // --no-supervisor: each instance is one process the test kills outright (a real box would
    // restart it, with systemd's Restart=always or hostd's own supervisor).
    [0, 1].map(() =>
      spawnHostd(['--no-supervisor', '--sites', SITE, '--listen', '127.0.0.1:0', '--trust-proxy', '127.0.0.1', '--access-log', 'off']),
    ),
  );
}

function nginxFor(bin: string, hostds: HostdProcess[], port: number): Promise<ServerProcess> {
  const conf = fillRecipe('nginx/hostd.conf', {
    '127.0.0.1:8081': `127.0.0.1:${hostds[0].port}`,
    '127.0.0.1:8082': `127.0.0.1:${hostds[1].port}`,
    'listen 80;': `listen 127.0.0.1:${port};`,
  });
  return startNginx(bin, conf, [port]);
}

/**
 * Sends GETs through `pool` (`concurrency` at a time) until `until()` is true and at least
 * `min` were sent, never more than `max`. Counts answers per hostd pid and every failure
 * (a thrown error or a status other than 200).
 */
async function load(
  pool: Pool,
  o: { min: number; max: number; concurrency: number; until?: () => boolean; onCount?: (n: number) => void },
) {
  let sent = 0;
  const byPid = new Map<number, number>();
  const failures: string[] = [];
  const more = () => sent < o.max && (sent < o.min || (o.until !== undefined && !o.until()));
  await Promise.all(
    Array.from({ length: o.concurrency }, async () => {
      while (more()) {
        const n = ++sent;
        o.onCount?.(n);
        try {
          const r = await pool.request({ path: `/load/${n}`, method: 'GET', headers: { host: 'example.test' } });
          const text = await r.body.text();
          if (r.statusCode !== 200) failures.push(`#${n}: ${r.statusCode} ${text.slice(0, 100)}`);
          else {
            const pid = (JSON.parse(text) as Echo).pid;
            byPid.set(pid, (byPid.get(pid) ?? 0) + 1);
          }
        } catch (err) {
          failures.push(`#${n}: ${(err as Error).message}`);
        }
      }
    }),
  );
  return { sent, byPid, failures };
}

describe('deploy: nginx load-balancing two hostd instances (examples/deploy/nginx/hostd.conf)', function () {
  this.timeout(90_000);
  let bin: string;
  let hostds: HostdProcess[] = [];
  let nginx: ServerProcess | undefined;
  let pool: Pool | undefined;

  before(function () {
    bin = requireBinary(this, 'nginx', 'nginx');
  });

  afterEach(async () => {
    await pool?.close();
    pool = undefined;
    await nginx?.stop();
    nginx = undefined;
    await Promise.all(hostds.map((h) => h.stop('SIGKILL')));
    hostds = [];
  });

  async function setUp(): Promise<number> {
    hostds = await startPair();
    const port = await freePort();
    nginx = await nginxFor(bin, hostds, port);
    pool = new Pool(`http://127.0.0.1:${port}`, { connections: 16, pipelining: 1 });
    return port;
  }

  it('SIGKILL of one instance under keep-alive load: zero client-visible errors', async () => {
    await setUp();
    const [victim, survivor] = hostds;
    let killedAt = 0;
    const r = await load(pool!, {
      min: 3000,
      max: 3000,
      concurrency: 16,
      onCount: (n) => {
        if (n === 1000) {
          killedAt = n;
          victim.proc.kill('SIGKILL');
        }
      },
    });
    expect(killedAt).to.equal(1000);
    expect(r.failures, r.failures.slice(0, 5).join('\n')).to.deep.equal([]);
    expect(r.sent).to.equal(3000);
    // Both served before the kill (load balanced), the survivor carried the rest.
    expect(r.byPid.get(victim.proc.pid!) ?? 0).to.be.above(0);
    expect(r.byPid.get(survivor.proc.pid!) ?? 0).to.be.above(1500);
    expect(victim.proc.signalCode).to.equal('SIGKILL');
  });

  it('a rolling SIGHUP of both instances under load: zero client-visible errors', async () => {
    await setUp();
    let rolled = false;
    const roll = async () => {
      for (const h of hostds) {
        const before = (h.stderr().match(/\breloaded\b/g) ?? []).length;
        h.proc.kill('SIGHUP');
        await h.waitFor(new RegExp(`(?:[\\s\\S]*\\breloaded\\b){${before + 1}}`), 30_000);
      }
      rolled = true;
    };
    let rolling: Promise<void> | undefined;
    const r = await load(pool!, {
      min: 2000,
      max: 50_000,
      concurrency: 16,
      until: () => rolled,
      onCount: (n) => {
        if (n === 300) rolling = roll();
      },
    });
    await rolling;
    expect(rolled).to.equal(true);
    expect(r.failures, r.failures.slice(0, 5).join('\n')).to.deep.equal([]);
    for (const h of hostds) expect(r.byPid.get(h.proc.pid!) ?? 0, `answers from pid ${h.proc.pid}`).to.be.above(0);
    for (const h of hostds) expect(h.stderr()).to.match(/\breloaded\b/);
  });

  it('X-Forwarded-For/-Proto are believed from nginx (the trusted address) only', async () => {
    const port = await setUp();
    const from = (localAddress: string) => new Agent({ localAddress });
    const forged = { host: 'example.test', 'x-forwarded-for': '198.51.100.66', 'x-forwarded-proto': 'https' };
    const get = async (origin: string, localAddress: string, headers: Record<string, string>) => {
      const agent = from(localAddress);
      try {
        const r = await request(`${origin}/whoami`, { headers, dispatcher: agent });
        expect(r.statusCode).to.equal(200);
        return (await r.body.json()) as Echo;
      } finally {
        await agent.close();
      }
    };
    const direct = `http://127.0.0.1:${hostds[0].port}`;
    // Through nginx, from 127.0.0.3 with a forged chain: nginx appends the real peer, hostd takes
    // the rightmost untrusted hop, and nginx's own X-Forwarded-Proto replaces the forged one.
    const via = await get(`http://127.0.0.1:${port}`, '127.0.0.3', forged);
    expect(via.remote).to.equal('127.0.0.3');
    expect(via.url).to.match(/^http:\/\//);
    // Straight to hostd from an untrusted address: neither header is believed.
    const bypass = await get(direct, '127.0.0.2', forged);
    expect(bypass.remote).to.equal('127.0.0.2');
    expect(bypass.url).to.match(/^http:\/\//);
    // From the trusted address (where nginx connects from) the same headers are believed:
    // trust follows the peer address, not the header.
    const trusted = await get(direct, '127.0.0.1', forged);
    expect(trusted.remote).to.equal('198.51.100.66');
    expect(trusted.url).to.match(/^https:\/\//);
  });

  it('ordinary requests reuse upstream keep-alive connections', async () => {
    await setUp();
    const ports = hostds.map((h) => h.port);
    const opened = () => new Set(ports.flatMap((p) => [...connectionsTo(p)]));
    const before = opened();
    const byPid = new Set<number>();
    for (let i = 0; i < 40; i++) {
      const r = await pool!.request({ path: `/seq/${i}`, method: 'GET', headers: { host: 'example.test' } });
      const text = await r.body.text();
      expect(r.statusCode, text).to.equal(200);
      byPid.add((JSON.parse(text) as Echo).pid);
    }
    expect(byPid.size, 'both instances answered').to.equal(2);
    // One request at a time: nginx needs one connection per instance and keeps it (keepalive 32).
    // Without upstream keep-alive (a Connection header other than empty reaching hostd, HTTP/1.0)
    // this would be 40 connections, one per request.
    const fresh = [...opened()].filter((p) => !before.has(p));
    expect(fresh.length, `upstream connections nginx opened for 40 requests: ${fresh.length}`).to.be.at.most(4);
  });

  it('WebSockets: upgraded on either instance, messages both ways, close codes, the client address; upgrades fail over', async () => {
    const port = await setUp();
    const url = `ws://127.0.0.1:${port}/ws`;
    // Round robin puts consecutive upgrades on alternate instances, and pub/sub is per hostd: open
    // sockets until one named b shares a's instance (the third at the latest).
    const a = await openWs(url, 'a', '127.0.0.3');
    const others = [await openWs(url, 'b', '127.0.0.3')];
    if (others[0].hello.pid !== a.hello.pid) others.push(await openWs(url, 'b', '127.0.0.3'));
    const b = others.find((o) => o.hello.pid === a.hello.pid);
    expect(b, 'a second socket on the instance of the first').to.not.equal(undefined);
    const hellos = [a, ...others].map((o) => o.hello);
    expect(new Set(hellos.map((h) => h.pid)), 'instances that took upgrades').to.have.property('size', 2);
    // X-Forwarded-For reaches hostd on the upgrade too: the app sees the client, not nginx.
    for (const h of hellos) expect(h.remote).to.equal('127.0.0.3');
    expect(await converse(a.client, b!.client)).to.deep.equal(CONVERSED);

    // The other instance dies: its socket is cut, and new upgrades go to the survivor.
    const lone = others.find((o) => o.hello.pid !== a.hello.pid)!;
    const victim = hostds.find((h) => h.proc.pid === lone.hello.pid)!;
    victim.proc.kill('SIGKILL');
    expect((await lone.client.closed).code).to.equal(1006);
    for (let i = 0; i < 4; i++) {
      const s = await openWs(url, `after${i}`, '127.0.0.3');
      expect(s.hello.pid).to.equal(a.hello.pid);
      s.client.close(1000, 'ok');
      expect(await s.client.closed).to.deep.equal({ code: 1000, reason: 'ok' });
    }
  });
});
