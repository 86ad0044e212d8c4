// The front's routing over real sockets: virtual hosts by Host header, shared and separate listen
// addresses, longest-prefix mounts, the CLI's flags and exit codes, and the native-binary check.
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { request } from 'undici';
import { freePorts, RawClient, runCli, sleep, spawnHostd, startHost, type TestHost } from './helpers/index.js';

async function site(root: string, name: string, files: Record<string, string>): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  for (const [f, body] of Object.entries(files)) {
    await mkdir(join(dir, f, '..'), { recursive: true });
    await writeFile(join(dir, f), body);
  }
  return dir;
}

async function get(port: number, path: string, host: string) {
  const res = await request(`http://127.0.0.1:${port}${path}`, { headers: { host } });
  return { status: res.statusCode, body: await res.body.text(), headers: res.headers };
}

describe('front: virtual hosts', () => {
  let root: string;
  let h: TestHost;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'hostd-front-'));
    const a = await site(root, 'a', { 'index.html': 'site A' });
    const b = await site(root, 'b', { 'index.html': 'site B' });
    const wild = await site(root, 'wild', { 'index.html': 'wildcard', 'deep/x.txt': 'deep' });
    const fallback = await site(root, 'fallback', { 'index.html': 'catch-all' });
    h = await startHost([
      { serverName: ['a.example', 'www.a.example'], static: [{ url: '/', dir: a }] },
      { serverName: 'b.example', static: [{ url: '/', dir: b }] },
      { serverName: ['*.wild.example'], static: [{ url: '/', dir: wild }] },
      { serverName: ['*'], static: [{ url: '/', dir: fallback }] },
    ]);
  });
  after(() => h?.close());

  it('picks the vhost by exact Host, case-insensitively, with the port stripped', async () => {
    expect((await get(h.port, '/', 'a.example')).body).to.equal('site A');
    expect((await get(h.port, '/', 'WWW.A.Example:8080')).body).to.equal('site A');
    expect((await get(h.port, '/', 'b.example.')).body).to.equal('site B');
  });

  it('matches *.suffix wildcards at any depth but not the bare suffix', async () => {
    expect((await get(h.port, '/', 'x.wild.example')).body).to.equal('wildcard');
    expect((await get(h.port, '/deep/x.txt', 'y.z.wild.example')).body).to.equal('deep');
    expect((await get(h.port, '/', 'wild.example')).body).to.equal('catch-all');
  });

  it('sends unknown names to the catch-all', async () => {
    expect((await get(h.port, '/', 'nobody.example')).body).to.equal('catch-all');
    expect((await get(h.port, '/', '127.0.0.1')).body).to.equal('catch-all');
  });

  it('never answers a request without Host with content', async () => {
    // uWebSockets.js v20.30 rejects a request without Host in its parser (it closes the
    // connection; it cannot be made to answer 400). Either way no vhost is served.
    const conn = await RawClient.connect(h.port);
    try {
      conn.write('GET / HTTP/1.1\r\n\r\n');
      // "Nothing comes back" is the feature: uWS neither answers nor closes until its ~10 s idle
      // timeout, so a second of silence (or a close, or a 400) is the pass.
      await Promise.race([conn.closed, sleep(1000)]);
      const reply = await conn.read(() => true);
      expect(reply).to.satisfy((r: string) => r === '' || r.startsWith('HTTP/1.1 400'));
    } finally {
      conn.destroy();
    }
  });
});

describe('front: listeners and mounts', () => {
  let root: string;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'hostd-front-'));
  });

  it('answers 404 for an unknown Host when no vhost is the catch-all', async () => {
    const dir = await site(root, 'only', { 'index.html': 'only' });
    const h = await startHost([{ serverName: 'only.example', static: [{ url: '/', dir }] }]);
    try {
      expect((await get(h.port, '/', 'only.example')).status).to.equal(200);
      const miss = await get(h.port, '/', 'other.example');
      expect(miss.status).to.equal(404);
      expect(miss.body).to.not.include('only');
    } finally {
      await h.close();
    }
  });

  it('takes the longest mount prefix, on segment boundaries', async () => {
    const rootDir = await site(root, 'r', { 'assetsx/f.txt': 'root-assetsx', 'f.txt': 'root' });
    const assets = await site(root, 'assets', { 'f.txt': 'assets' });
    const deep = await site(root, 'deep', { 'f.txt': 'deep' });
    const h = await startHost([
      {
        serverName: '*',
        static: [
          { url: '/', dir: rootDir },
          { url: '/assets', dir: assets },
          { url: '/assets/deep/', dir: deep },
        ],
      },
    ]);
    try {
      expect((await get(h.port, '/f.txt', 'x')).body).to.equal('root');
      expect((await get(h.port, '/assets/f.txt', 'x')).body).to.equal('assets');
      expect((await get(h.port, '/assets/deep/f.txt', 'x')).body).to.equal('deep');
      expect((await get(h.port, '/assetsx/f.txt', 'x')).body).to.equal('root-assetsx');
    } finally {
      await h.close();
    }
  });

  it('serves several listen addresses from one process (CLI, vhost files)', async () => {
    const dirA = await site(root, 'la', { 'index.html': 'on first port' });
    const dirB = await site(root, 'lb', { 'index.html': 'on second port' });
    const sites = join(root, 'sites-multi');
    await mkdir(sites);
    // Two free ports: ask the OS, then let hostd bind them.
    const [p1, p2] = await freePorts(2);
    await writeFile(join(sites, 'a.yaml'), `serverName: ["*"]\nlisten: "127.0.0.1:${p1}"\nstatic:\n  - url: /\n    dir: ${dirA}\n`);
    await writeFile(
      join(sites, 'b.json'),
      JSON.stringify({ serverName: '*', listen: `127.0.0.1:${p2}`, static: [{ url: '/', dir: dirB }] }),
    );
    const proc = await spawnHostd(['--sites', sites, '--access-log', 'off']);
    try {
      await proc.waitFor(new RegExp(`:${p2}`));
      expect((await get(p1, '/', 'x')).body).to.equal('on first port');
      expect((await get(p2, '/', 'x')).body).to.equal('on second port');
    } finally {
      expect(await proc.stop()).to.equal(0);
    }
  });

  it('writes a combined-format access log line per request', async () => {
    const dir = await site(root, 'logged', { 'hello.txt': 'hello' });
    const log = join(root, 'access.log');
    const h = await startHost([{ serverName: '*', static: [{ url: '/', dir }] }], { accessLog: log });
    try {
      await request(h.url('/hello.txt?x=1'), { headers: { 'user-agent': 'test-agent/1.0', referer: 'http://ref.example/' } }).then((r) =>
        r.body.text(),
      );
      await request(h.url('/missing')).then((r) => r.body.text());
    } finally {
      await h.close();
    }
    const lines = (await readFile(log, 'utf8')).trim().split('\n');
    expect(lines).to.have.length(2);
    expect(lines[0]).to.match(
      /^127\.0\.0\.1 - - \[\d{2}\/\w{3}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000\] "GET \/hello\.txt\?x=1 HTTP\/1\.1" 200 5 "http:\/\/ref\.example\/" "test-agent\/1\.0"$/,
    );
    expect(lines[1]).to.match(/"GET \/missing HTTP\/1\.1" 404 \d+ "-" "[^"]*"$/);
  });
});

describe('hostd command line', () => {
  it('--help prints usage and exits 0; --version prints the version', async () => {
    const help = await runCli(['--help']);
    expect(help.code).to.equal(0);
    expect(help.stdout).to.include('--sites DIR|FILE').and.include('check');
    const version = await runCli(['--version']);
    expect(version.code).to.equal(0);
    expect(version.stdout).to.match(/^hostd \d+\.\d+\.\d+/);
  });

  it('exits 2 on a usage error', async () => {
    const r = await runCli(['--no-such-flag']);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.include('--no-such-flag').and.include('Usage:');
    expect((await runCli(['serve-please', '--sites', 'x'])).code).to.equal(2);
  });

  it('exits 2 without --sites when there is no ./sites', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'hostd-empty-'));
    const r = await runCli([], { cwd });
    expect(r.code).to.equal(2);
    expect(r.stderr).to.include('no --sites');
  });

  it('refuses to start on the pure-JS uWebSockets.js fallback', async () => {
    const root = await mkdtemp(join(tmpdir(), 'hostd-fallback-'));
    const dir = await site(root, 's', { 'index.html': 'x' });
    await writeFile(join(root, 'site.yaml'), `serverName: "*"\nlisten: 0\nstatic: [{ url: /, dir: ./s }]\n`);
    const r = await runCli(['--sites', join(root, 'site.yaml')], { env: { UWS_USE_FALLBACK: '1' } });
    expect(r.code).to.equal(1);
    expect(r.stderr)
      .to.match(/native binary/)
      .and.match(/refuses/);
    expect(r.stderr).to.not.match(/\n\s+at /); // no stack trace
    void dir;
  });
});
