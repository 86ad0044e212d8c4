// Logs and proxies: JSON access log lines, request ids, worker output tagged by mount in the
// error log, log files reopened on SIGUSR1 after a rename (logrotate), and --trust-proxy.
import { readFile, rename, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { expect } from 'chai';
import { formatAccess } from '../native-front/log/access-log.js';
import { LogFile } from '../native-front/log/destination.js';
import { type AppEcho, getJson, getText, type HostdProcess, makeSite, type Site, spawnHostd, startHost, waitFor } from './helpers/index.js';

async function lines(file: string): Promise<string[]> {
  try {
    return (await readFile(file, 'utf8')).split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

describe('ops: access and error logs (hostd process)', function () {
  this.timeout(30_000);
  let site: Site;
  let hostd: HostdProcess;
  let accessLog: string;
  let origin: string;

  before(async () => {
    site = await makeSite();
    accessLog = join(site.root, 'logs', 'access.log');
    hostd = await spawnHostd(['--sites', site.sites, '--access-log', accessLog, '--log-format', 'json']);
    origin = `http://127.0.0.1:${hostd.port}`;
  });
  after(async () => {
    if (hostd) expect(await hostd.stop()).to.equal(0);
    if (site) await rm(site.root, { recursive: true, force: true });
  });

  it('writes one parseable JSON line per request with the documented fields', async () => {
    await getText(`${origin}/?q=1`, { 'user-agent': 'ops-test' });
    const app = await getJson<AppEcho>(`${origin}/app/thing`, { 'x-request-id': 'req-abc-123' });
    await getText(`${origin}/missing.txt`);
    await waitFor(async () => (await lines(accessLog)).length >= 3, { what: 'three access log lines' });
    const entries = (await lines(accessLog)).map((l) => JSON.parse(l) as Record<string, unknown>);
    const [stat200, app200, miss] = entries;
    for (const e of entries) {
      expect(e).to.include.keys('time', 'vhost', 'mount', 'method', 'path', 'status', 'bytes', 'duration_ms', 'request_id', 'client');
      expect(new Date(e.time as string).toISOString()).to.equal(e.time);
      expect(e.duration_ms).to.be.a('number').and.be.at.least(0);
      expect(e.client).to.equal('127.0.0.1');
      expect(e.vhost).to.equal('*');
      expect(e.method).to.equal('GET');
    }
    expect(stat200).to.include({ mount: '/', path: '/?q=1', status: 200, bytes: 13, user_agent: 'ops-test' });
    expect(app200).to.include({ mount: '/app', path: '/app/thing', status: 200, request_id: 'req-abc-123' });
    expect(app200.bytes).to.equal(Buffer.byteLength(JSON.stringify(app.json)));
    expect(miss).to.include({ status: 404, path: '/missing.txt' });
    expect(miss.request_id).to.match(/^[0-9a-f]{8}-[0-9a-z]+$/);
  });

  it('passes an accepted X-Request-Id to the app, or a generated one (same as in the access log)', async () => {
    const given = await getJson<AppEcho>(`${origin}/app/id`, { 'x-request-id': 'upstream-42' });
    expect(given.json.requestId).to.equal('upstream-42');
    expect(given.json.xRequestId).to.equal('upstream-42');
    const bad = await getJson<AppEcho>(`${origin}/app/id`, { 'x-request-id': 'has spaces and "quotes"' });
    expect(bad.json.requestId).to.match(/^[0-9a-f]{8}-[0-9a-z]+$/);
    const made = await getJson<AppEcho>(`${origin}/app/id2`);
    expect(made.json.requestId).to.match(/^[0-9a-f]{8}-[0-9a-z]+$/);
    await waitFor(async () => (await lines(accessLog)).some((l) => l.includes(made.json.requestId)), { what: 'the generated id logged' });
  });

  it('forwards a generated request id to the app as the X-Request-Id header', async () => {
    const made = await getJson<AppEcho>(`${origin}/app/id3`);
    expect(made.json.xRequestId).to.equal(made.json.requestId);
  });

  it('tags worker console output with the mount in the error log', async () => {
    await getJson<AppEcho>(`${origin}/app/log?msg=hello-from-the-app`);
    await hostd.waitFor(/app says hello-from-the-app/);
    const line = hostd
      .stderr()
      .split('\n')
      .find((l) => l.includes('app says hello-from-the-app'))!;
    expect(line).to.match(/^\S+ info app says hello-from-the-app .*mount=\/app/);
    expect(line).to.match(/vhost=\*/);
  });

  it('reopens the access log on SIGUSR1 after logrotate renamed it', async () => {
    await getText(`${origin}/?before-rotate`);
    await waitFor(async () => (await lines(accessLog)).some((l) => l.includes('before-rotate')), { what: 'pre-rotation line' });
    await rename(accessLog, `${accessLog}.1`);
    await getText(`${origin}/?between`); // still goes to the renamed file (same open descriptor)
    await waitFor(async () => (await lines(`${accessLog}.1`)).some((l) => l.includes('between')), { what: 'line in the renamed file' });
    hostd.proc.kill('SIGUSR1');
    // sonic-boom reopens (creating the file) as soon as the signal is handled.
    await waitFor(
      () =>
        stat(accessLog).then(
          () => true,
          () => false,
        ),
      { what: 'a fresh access.log' },
    );
    await getText(`${origin}/?after-rotate`);
    await waitFor(async () => (await lines(accessLog)).some((l) => l.includes('after-rotate')), { what: 'line in the fresh file' });
    expect((await lines(`${accessLog}.1`)).some((l) => l.includes('after-rotate'))).to.equal(false);
    expect(hostd.stderr()).to.not.match(/Debugger listening/);
  });
});

describe('ops: error log file and --trust-proxy (in process)', function () {
  this.timeout(30_000);
  let site: Site;
  before(async () => {
    site = await makeSite();
  });
  after(async () => site && (await rm(site.root, { recursive: true, force: true })));

  it('reopens the error log file too', async () => {
    const errorLog = join(site.root, 'error.log');
    const h = await startHost([{ serverName: ['*'], static: [{ url: '/', dir: join(site.root, 'public') }] }], { errorLog });
    try {
      await waitFor(async () => (await lines(errorLog)).some((l) => / info listening /.test(l)), { what: 'error log line' });
      await rename(errorLog, `${errorLog}.1`);
      h.host.reopenLogs();
      h.host.log.info('after reopen');
      await waitFor(async () => (await lines(errorLog)).some((l) => l.includes('after reopen')), { what: 'fresh error log' });
      expect((await stat(`${errorLog}.1`)).size).to.be.greaterThan(0);
    } finally {
      await h.close();
    }
  });

  it('writes one access log line per request under a burst, all there when close() resolves', async () => {
    const accessLog = join(site.root, 'burst-access.log');
    const h = await startHost([{ serverName: ['*'], static: [{ url: '/', dir: join(site.root, 'public') }] }], { accessLog });
    const n = 300;
    try {
      const statuses = await Promise.all(
        Array.from({ length: n }, (_, i) =>
          fetch(h.url(`/?i=${i}`)).then(async (r) => {
            await r.arrayBuffer();
            return r.status;
          }),
        ),
      );
      expect(statuses.every((st) => st === 200)).to.equal(true);
    } finally {
      await h.close();
    }
    const logged = await lines(accessLog);
    expect(logged).to.have.length(n);
    const seen = new Set(logged.map((l) => /GET \/\?i=(\d+) /.exec(l)?.[1]));
    expect(seen.size).to.equal(n);
  });

  it('hands lines still waiting for the end of the turn to the file on close()', async () => {
    const file = join(site.root, 'same-turn.log');
    const log = new LogFile(file, 1);
    const rec = {
      vhost: '*',
      site: 'same-turn',
      port: 8080,
      mount: '',
      method: 'GET',
      host: 'h',
      remoteAddress: '192.0.2.1',
      referer: '',
      userAgent: '',
      requestId: 'r',
      status: 200,
      bytes: 1,
      durationMs: 0,
    };
    for (let i = 0; i < 50; i++) log.write(formatAccess({ ...rec, url: `/same-turn/${i}` }, 'combined'));
    await log.close(); // same turn: the batch has not been handed over yet
    expect(await lines(file)).to.have.length(50);
  });

  const vhosts = (s: Site) => [
    {
      serverName: ['*'],
      static: [{ url: '/', dir: join(s.root, 'public') }],
      apps: [
        { url: '/app', module: s.appFile, pool: { threads: 1 } },
        { url: '/express', module: resolve('test/fixtures/node-apps/express-app.mjs'), pool: { threads: 1 } },
      ],
    },
  ];

  it('logs what the router answers itself: unknown host, no mount, redirect', async () => {
    const accessLog = join(site.root, 'router.log');
    const h = await startHost(
      [
        { serverName: ['a.test'], static: [{ url: '/static', dir: join(site.root, 'public') }] },
        { serverName: ['r.test'], redirectHttps: true },
      ],
      { accessLog, logFormat: 'json' },
    );
    try {
      expect((await getText(h.url('/x'), { host: 'nobody.test' })).status).to.equal(404);
      expect((await getText(h.url('/elsewhere?q'), { host: 'a.test' })).status).to.equal(404);
      expect((await getText(h.url('/go'), { host: 'r.test', 'x-request-id': 'redir-1' })).status).to.equal(308);
      await waitFor(async () => (await lines(accessLog)).length >= 3, { what: 'three lines' });
      const [unknown, nomount, redirect] = (await lines(accessLog)).map((l) => JSON.parse(l));
      expect(unknown).to.include({ vhost: '-', mount: '-', status: 404, host: 'nobody.test', path: '/x', client: '127.0.0.1' });
      expect(nomount).to.include({ vhost: 'a.test', mount: '-', status: 404, path: '/elsewhere?q' });
      expect(redirect).to.include({ vhost: 'r.test', status: 308, path: '/go', request_id: 'redir-1' });
    } finally {
      await h.close();
    }
  });

  it('believes X-Forwarded-For/-Proto from a trusted proxy: ctx.remoteAddress, req.ip, access log', async () => {
    const accessLog = join(site.root, 'trusted.log');
    const h = await startHost(vhosts(site), { trustProxy: '127.0.0.1/32', accessLog, logFormat: 'json' });
    try {
      const xff = { 'x-forwarded-for': '198.51.100.9, 203.0.113.7', 'x-forwarded-proto': 'https' };
      const app = await getJson<AppEcho>(h.url('/app/who'), xff);
      expect(app.json.remoteAddress).to.equal('203.0.113.7');
      expect(app.json.url).to.match(/^https:\/\//);
      const express = await getJson<{ ip: string }>(h.url('/express/hello'), xff);
      expect(express.json.ip).to.equal('203.0.113.7');
      await getText(h.url('/'), xff);
      await waitFor(async () => (await lines(accessLog)).length >= 3, { what: 'access log lines' });
      for (const l of await lines(accessLog)) expect(JSON.parse(l).client).to.equal('203.0.113.7');
    } finally {
      await h.close();
    }
  });

  it('a dual-stack listener ([::]) names an IPv4 client a.b.c.d and an IPv6 one in RFC 5952 form: app and access log', async () => {
    const accessLog = join(site.root, 'dual.log');
    const h = await startHost(
      vhosts(site).map((v) => ({ ...v, listen: '[::]:0' })),
      { accessLog, logFormat: 'json' },
    );
    try {
      const v4 = await getJson<AppEcho>(`http://127.0.0.1:${h.port}/app/v4`);
      expect(v4.json.remoteAddress).to.equal('127.0.0.1');
      const v6 = await getJson<AppEcho>(`http://[::1]:${h.port}/app/v6`);
      expect(v6.json.remoteAddress).to.equal('::1');
      await getText(`http://[::1]:${h.port}/`);
      await waitFor(async () => (await lines(accessLog)).length >= 3, { what: 'access log lines' });
      const clients = (await lines(accessLog)).map((l) => JSON.parse(l) as { path: string; client: string });
      expect(clients.map((c) => c.client)).to.deep.equal(['127.0.0.1', '::1', '::1']);
    } finally {
      await h.close();
    }
  });

  it('ignores X-Forwarded-For from peers it does not trust', async () => {
    const accessLog = join(site.root, 'untrusted.log');
    const h = await startHost(vhosts(site), { trustProxy: '10.0.0.0/8', accessLog, logFormat: 'json' });
    try {
      const xff = { 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https' };
      const app = await getJson<AppEcho>(h.url('/app/who'), xff);
      expect(app.json.remoteAddress).to.equal('127.0.0.1');
      expect(app.json.url).to.match(/^http:\/\//);
      const express = await getJson<{ ip: string }>(h.url('/express/hello'), xff);
      expect(express.json.ip).to.equal('127.0.0.1');
      await waitFor(async () => (await lines(accessLog)).length >= 2, { what: 'access log lines' });
      for (const l of await lines(accessLog)) expect(JSON.parse(l).client).to.equal('127.0.0.1');
    } finally {
      await h.close();
    }
  });
});
