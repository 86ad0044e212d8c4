// docs/deploy.md "HAProxy": the recipe examples/deploy/haproxy/haproxy.cfg run by the real HAProxy
// in front of a hostd listener with `proxyProtocol: true`: HTTP mode sends PROXY v2, TCP mode v1.
// The client's address (the test binds distinct 127.0.0.x sources) reaches the app and the access
// log; a connection without the header, straight to hostd, is refused. WebSockets pass through both
// frontends with the client's address, and an idle one is held by `timeout tunnel`, not cut by the
// client/server timeouts.
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { ROOT, spawnHostd, type HostdProcess } from './helpers/host.js';
import {
  CONVERSED,
  converse,
  fillRecipe,
  freePort,
  openWs,
  pollUntil,
  requireBinary,
  startHaproxy,
  type ServerProcess,
} from './helpers/proxies.js';

const SITE = join(ROOT, 'test/fixtures/deploy/site-proxied.yaml');

interface Echo {
  remote: string;
  url: string;
}

describe('deploy: HAProxy with the PROXY protocol (examples/deploy/haproxy/haproxy.cfg)', function () {
  this.timeout(60_000);
  let bin: string;
  let hostd: HostdProcess;
  let haproxy: ServerProcess;
  let dir: string;
  let httpPort: number;
  let tcpPort: number;
  const agents: Agent[] = [];

  const from = (localAddress: string) => {
    const a = new Agent({ localAddress });
    agents.push(a);
    return a;
  };
  const accessLog = () => readFileSync(join(dir, 'access.log'), 'utf8');

  before(async function () {
    bin = requireBinary(this, 'haproxy', 'haproxy');
    dir = mkdtempSync(join(tmpdir(), 'hostd-deploy-haproxy-'));
    hostd = await spawnHostd(['--sites', SITE, '--listen', '127.0.0.1:0', '--access-log', join(dir, 'access.log')]);
    [httpPort, tcpPort] = [await freePort(), await freePort()];
    const cfg = fillRecipe('haproxy/haproxy.cfg', {
      'bind :80': `bind 127.0.0.1:${httpPort}`,
      'bind :81': `bind 127.0.0.1:${tcpPort}`,
      '127.0.0.1:8080': `127.0.0.1:${hostd.port}`,
    });
    haproxy = await startHaproxy(bin, cfg, [httpPort, tcpPort]);
  });

  after(async () => {
    await Promise.all(agents.map((a) => a.close()));
    await haproxy?.stop();
    await hostd?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function get(port: number, path: string, localAddress: string): Promise<Echo> {
    const r = await request(`http://127.0.0.1:${port}${path}`, { headers: { host: 'example.test' }, dispatcher: from(localAddress) });
    const text = await r.body.text();
    expect(r.statusCode, text).to.equal(200);
    return JSON.parse(text) as Echo;
  }

  for (const [mode, version, portOf] of [
    ['HTTP mode', 'v2', () => httpPort],
    ['TCP mode', 'v1', () => tcpPort],
  ] as const) {
    it(`${mode} (PROXY ${version}): the client address reaches the app and the access log`, async () => {
      const client = version === 'v2' ? '127.0.0.4' : '127.0.0.5';
      const path = `/who/${version}`;
      const echo = await get(portOf(), path, client);
      expect(echo.remote).to.equal(client);
      const line = await pollUntil(`the access log line for ${path}`, () =>
        accessLog()
          .split('\n')
          .find((l) => l.includes(`GET ${path} `)),
      );
      expect(line.split(' ')[0]).to.equal(client);
    });
  }

  it('keep-alive connections of different clients each keep their own address', async () => {
    const clients = ['127.0.0.6', '127.0.0.7', '127.0.0.8'];
    const answers = await Promise.all(
      clients.flatMap((c) =>
        Array.from({ length: 20 }, (_, i) => get(i % 2 ? httpPort : tcpPort, `/mix/${c}/${i}`, c).then((e) => [c, e.remote])),
      ),
    );
    for (const [client, seen] of answers) expect(seen).to.equal(client);
  });

  it('HAProxy health checks (check-send-proxy) pass: the backends are up', async () => {
    // The checks come from HAProxy itself (v2 LOCAL / v1 header): hostd answers them 200.
    await pollUntil('a health check in the access log', () => /^127\.0\.0\.1 .*"GET \/ HTTP\/1\.1" 200 /m.test(accessLog()));
  });

  it('a connection straight to hostd without the header is refused, and never reaches the log', async () => {
    const before = accessLog();
    const answer = await new Promise<{ data: string; closed: boolean }>((resolve) => {
      const s = connect(hostd.port, '127.0.0.1');
      let data = '';
      s.on('data', (d) => (data += d));
      s.on('error', () => {});
      s.on('close', () => resolve({ data, closed: true }));
      s.write('GET /bypass HTTP/1.1\r\nHost: example.test\r\n\r\n');
    });
    expect(answer).to.deep.equal({ data: '', closed: true });
    // The same request with a header is served (the refusal is about the header, not the path).
    const ok = await request(`http://127.0.0.1:${httpPort}/bypass`, { headers: { host: 'example.test' }, dispatcher: from('127.0.0.9') });
    expect(ok.statusCode).to.equal(200);
    await ok.body.text();
    await pollUntil('the proxied /bypass line', () => accessLog().includes('GET /bypass '));
    const added = accessLog()
      .slice(before.length)
      .split('\n')
      .filter((l) => l.includes('/bypass'));
    expect(added.map((l) => l.split(' ')[0])).to.deep.equal(['127.0.0.9']);
  });

  it("WebSockets over both frontends: the PROXY header's client address on the upgrade, messages both ways, close codes", async () => {
    // a through mode http (PROXY v2 on the upgrade's connection), b through mode tcp (v1): one
    // hostd, so a publish crosses from one frontend to the other.
    const a = await openWs(`ws://127.0.0.1:${httpPort}/ws`, 'a', '127.0.0.10');
    const b = await openWs(`ws://127.0.0.1:${tcpPort}/ws`, 'b', '127.0.0.11');
    expect([a.hello.remote, b.hello.remote]).to.deep.equal(['127.0.0.10', '127.0.0.11']);
    expect(await converse(a.client, b.client)).to.deep.equal(CONVERSED);
    // hostd logs each socket when it closes (status 101), under the address the header carried.
    for (const [name, client] of [
      ['a', '127.0.0.10'],
      ['b', '127.0.0.11'],
    ]) {
      const line = await pollUntil(`the access log line of socket ${name}`, () =>
        accessLog()
          .split('\n')
          .find((l) => l.includes(`"GET /ws?name=${name} HTTP/1.1" 101 `)),
      );
      expect(line.split(' ')[0]).to.equal(client);
    }
  });

  it('an idle WebSocket is held by timeout tunnel, not cut by timeout client/server (here cut to 2 s)', async () => {
    // A second HAProxy with the recipe's client and server timeouts at 2 s, so that the test can
    // watch them pass: an idle keep-alive HTTP connection on the same frontend is closed by them
    // (HAProxy's own clock, no sleep in the test). Two of those in a row, and the sockets, silent
    // since before the first, have been idle for over twice the timeout.
    const [http2, tcp2] = [await freePort(), await freePort()];
    const cfg = fillRecipe('haproxy/haproxy.cfg', {
      'bind :80': `bind 127.0.0.1:${http2}`,
      'bind :81': `bind 127.0.0.1:${tcp2}`,
      '127.0.0.1:8080': `127.0.0.1:${hostd.port}`,
      'timeout client 30s': 'timeout client 2s',
      'timeout server 30s': 'timeout server 2s',
    });
    const short = await startHaproxy(bin, cfg, [http2, tcp2]);
    try {
      const a = await openWs(`ws://127.0.0.1:${http2}/ws`, 'a', '127.0.0.12');
      const b = await openWs(`ws://127.0.0.1:${tcp2}/ws`, 'b', '127.0.0.13');
      let cut = '';
      for (const [name, s] of [
        ['a', a],
        ['b', b],
      ] as const)
        s.client.closed.then((c) => (cut += `${name} closed with ${c.code}; `));
      for (let i = 0; i < 2; i++) {
        const answer = await new Promise<string>((resolve, reject) => {
          const s = connect({ port: http2, host: '127.0.0.1', localAddress: '127.0.0.14' });
          let data = '';
          s.on('data', (d) => (data += d));
          s.on('error', reject);
          s.on('close', () => resolve(data));
          s.write('GET /idle HTTP/1.1\r\nHost: example.test\r\n\r\n');
        });
        expect(answer).to.match(/^HTTP\/1\.1 200 /);
      }
      expect(cut, 'sockets cut while idle').to.equal('');
      a.client.send('echo still here');
      expect(await a.client.next()).to.equal('still here');
      b.client.send('echo still here');
      expect(await b.client.next()).to.equal('still here');
      a.client.close(1000, 'done');
      b.client.close(1000, 'done');
      expect(await a.client.closed).to.deep.equal({ code: 1000, reason: 'done' });
      expect(await b.client.closed).to.deep.equal({ code: 1000, reason: 'done' });
    } finally {
      await short.stop();
    }
  });
});
