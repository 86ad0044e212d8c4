// The status listener and secrets (issue 9, item 4): /status and /metrics show env names, never
// values, to anyone who reaches them (an app included: it runs on the same machine and can fetch
// 127.0.0.1); the listener can be a Unix socket and can require a bearer token from a file.
import { expect } from 'chai';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { runCli, startHost } from './helpers/host.js';
import { VICTIM_APP } from './fixtures/contain/net.js';

const SECRET = 'pg://admin:s3cr3t-value-in-env@db';
const PASSED = 'passed-s3cr3t-value';
const TOKEN = 'status-token-0123456789abcdef';

describe('contain: the status listener and secrets', function () {
  this.timeout(30_000);
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'hostd-contain-status-'));
    process.env.HOSTD_TEST_STATUS_PASSED = PASSED;
  });
  after(async () => {
    delete process.env.HOSTD_TEST_STATUS_PASSED;
    if (root) await rm(root, { recursive: true, force: true });
  });

  const sites = [
    {
      serverName: ['*'],
      apps: [
        { url: '/app', module: VICTIM_APP, pool: { threads: 1, env: { DATABASE_URL: SECRET }, passEnv: ['HOSTD_TEST_STATUS_PASSED'] } },
      ],
    },
  ];

  it('/status and /metrics name the env variables and never show their values, also when an app fetches them', async () => {
    const h = await startHost(sites, { status: '127.0.0.1:0' });
    try {
      const base = `http://127.0.0.1:${h.host.statusPort}`;
      const res = await request(`${base}/status`);
      const text = await res.body.text();
      expect(res.statusCode).to.equal(200);
      const pool = (JSON.parse(text) as { hosts: { mounts: { pool?: { config: { env: unknown; passEnv?: unknown } } }[] }[] }).hosts[0]
        .mounts[0].pool!;
      expect(pool.config.env).to.deep.equal(['DATABASE_URL']);
      expect(pool.config.passEnv).to.deep.equal(['HOSTD_TEST_STATUS_PASSED']);
      const metrics = await (await request(`${base}/metrics`)).body.text();
      // The attack: an app (any app on this host) fetches the status listener from its worker.
      const fromApp = (await (await request(h.url(`/app/fetch?url=${encodeURIComponent(`${base}/status`)}`))).body.json()) as {
        status: number;
        text: string;
      };
      expect(fromApp.status).to.equal(200);
      for (const body of [text, metrics, fromApp.text]) {
        expect(body).to.not.include('s3cr3t');
        expect(body).to.not.include(PASSED);
      }
    } finally {
      await h.close();
    }
  });

  it('with --status-token-file: 401 without the token or with a wrong one, 200 with it, on every path', async () => {
    const tokenFile = join(root, 'token');
    await writeFile(tokenFile, `${TOKEN}\n`);
    await chmod(tokenFile, 0o600);
    const h = await startHost(sites, { status: '127.0.0.1:0', statusTokenFile: tokenFile });
    try {
      const base = `http://127.0.0.1:${h.host.statusPort}`;
      for (const path of ['/healthz', '/status', '/metrics']) {
        for (const auth of [undefined, 'Bearer wrong-token-0123456789ab', `Basic ${TOKEN}`, `Bearer ${TOKEN}x`]) {
          const res = await request(`${base}${path}`, { headers: auth ? { authorization: auth } : {} });
          expect(res.statusCode, `${path} with ${auth}`).to.equal(401);
          expect(await res.body.text()).to.not.include('DATABASE_URL');
        }
        const ok = await request(`${base}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
        expect(ok.statusCode, path).to.equal(200);
        await ok.body.dump();
      }
      const fromApp = (await (await request(h.url(`/app/fetch?url=${encodeURIComponent(`${base}/status`)}`))).body.json()) as {
        status: number;
      };
      expect(fromApp.status).to.equal(401);
    } finally {
      await h.close();
    }
  });

  it('listens on a Unix socket (unix:PATH and a plain path), with the token, and removes the socket file at close', async () => {
    const tokenFile = join(root, 'token2');
    await writeFile(tokenFile, TOKEN);
    for (const form of ['unix:', '']) {
      const socketPath = join(root, `status-${form ? 'u' : 'p'}.sock`);
      const h = await startHost(sites, { status: `${form}${socketPath}`, statusTokenFile: tokenFile });
      const agent = new Agent({ connect: { socketPath } });
      try {
        expect(h.host.statusPort).to.equal(undefined);
        const denied = await request('http://localhost/healthz', { dispatcher: agent });
        expect(denied.statusCode).to.equal(401);
        await denied.body.dump();
        const res = await request('http://localhost/status', { dispatcher: agent, headers: { authorization: `Bearer ${TOKEN}` } });
        expect(res.statusCode).to.equal(200);
        const status = (await res.body.json()) as { state: string; listeners: { port: number }[] };
        expect(status.state).to.equal('serving');
        expect(status.listeners[0].port).to.equal(h.port);
      } finally {
        await agent.close();
        await h.close();
      }
      const { existsSync } = await import('node:fs');
      expect(existsSync(socketPath), socketPath).to.equal(false);
    }
  });

  it('refuses a token shorter than 16 characters, or a missing token file, before serving (exit 2)', async () => {
    const short = join(root, 'short');
    await writeFile(short, 'too-short');
    const siteFile = join(root, 'site.yaml');
    await writeFile(siteFile, `serverName: ["*"]\nlisten: "127.0.0.1:0"\nstatic: [{ url: /, dir: ${JSON.stringify(root)} }]\n`);
    for (const [file, why] of [
      [short, /shorter than 16 characters/],
      [join(root, 'absent'), /cannot read .*absent: ENOENT/],
    ] as const) {
      const r = await runCli(['--sites', siteFile, '--no-supervisor', '--status', '127.0.0.1:0', '--status-token-file', file]);
      expect(r.code, r.stderr).to.equal(2);
      expect(r.stderr).to.match(why);
    }
  });
});
