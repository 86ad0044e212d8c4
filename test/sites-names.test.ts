// Issue 19, "Names": every vhost has a site name (its file's name, or `name:`), and metrics,
// /status, error-log tags and the access log carry it, so two catch-all vhosts on two ports
// (vhost="*",mount="/" both) never give colliding series.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import {
  freePorts,
  getText,
  type HostdProcess,
  parsePrometheus,
  readStatus,
  runCli,
  spawnHostd,
  statusBase,
  statusRequest,
  waitFor,
} from './helpers/index.js';

const APP = `export default {
  fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === '/log') console.log('app says ' + url.searchParams.get('msg'));
    return new Response('app');
  },
};
`;

/** Two catch-all sites on two ports: shop (named by its file) and journal (blog.yaml, name: journal). */
function writeSites(dir: string, ports: number[]): string {
  const sites = join(dir, 'sites');
  mkdirSync(join(dir, 'public'), { recursive: true });
  mkdirSync(sites);
  writeFileSync(join(dir, 'public/index.html'), 'static\n');
  writeFileSync(join(dir, 'app.mjs'), APP);
  const vhost = (port: number, extra = '') =>
    `${extra}default: true\nlisten: "127.0.0.1:${port}"\nstatic:\n  - { url: /, dir: ../public }\napps:\n  - { url: /app, module: ../app.mjs }\n`;
  writeFileSync(join(sites, 'shop.yaml'), vhost(ports[0]));
  writeFileSync(join(sites, 'blog.yaml'), vhost(ports[1], 'name: journal\n'));
  return sites;
}

describe('sites: names in metrics, /status, logs', () => {
  let dir: string;
  let hostd: HostdProcess;
  let ports: number[];
  let status: string;
  const accessLog = () => join(dir, 'access.log');
  const lines = async (file: string) => (await readFile(file, 'utf8').catch(() => '')).split('\n').filter(Boolean);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hostd-names-'));
    ports = await freePorts(2);
    const sites = writeSites(dir, ports);
    hostd = await spawnHostd(['--sites', sites, '--no-supervisor', '--access-log', accessLog(), '--log-format', 'json']);
    status = await statusBase(hostd);
    for (const port of ports) {
      expect((await getText(`http://127.0.0.1:${port}/`)).status).to.equal(200);
      expect((await getText(`http://127.0.0.1:${port}/app/x`)).status).to.equal(200);
    }
  });
  after(async () => {
    if (hostd) expect(await hostd.stop()).to.equal(0);
    rmSync(dir, { recursive: true, force: true });
  });

  it('/metrics: every per-mount series carries site=, and no two series collide', async () => {
    const r = await statusRequest(status, '/metrics');
    const { samples } = parsePrometheus(r.text);
    const seen = new Set<string>();
    for (const s of samples) {
      const id = `${s.name}{${Object.entries(s.labels)
        .sort()
        .map(([k, v]) => `${k}=${v}`)
        .join(',')}}`;
      expect(seen.has(id), `duplicate series ${id}`).to.equal(false);
      seen.add(id);
      if ('mount' in s.labels) expect(s.labels, s.name).to.have.property('site');
    }
    const served = samples.filter((s) => s.name === 'hostd_requests_total' && s.labels.status === '2xx' && s.value > 0);
    expect(served.map((s) => `${s.labels.site} ${s.labels.vhost} ${s.labels.mount}`).sort()).to.deep.equal([
      'journal * /',
      'journal * /app',
      'shop * /',
      'shop * /app',
    ]);
  });

  it('/status: hosts carry their site, and `sites` lists them by name with their file', async () => {
    const s = await readStatus(status);
    expect(s.hosts.map((h) => h.site).sort()).to.deep.equal(['journal', 'shop']);
    const journal = s.sites.find((x) => x.name === 'journal')!;
    expect(journal.file).to.match(/blog\.yaml$/);
    const app = journal.mounts.find((m) => m.url === '/app')!;
    expect(app.pool).to.include({ threads: 1, workers: 1, queue: 0, restarts: 0 });
    expect(app.pool!.requests).to.be.at.least(1);
    expect(app.pool!.memoryMb).to.have.length(1);
  });

  it('error-log tags read site=NAME mount=/x', async () => {
    await getText(`http://127.0.0.1:${ports[1]}/app/log?msg=from-journal`);
    await hostd.waitFor(/app says from-journal/);
    const line = hostd
      .stderr()
      .split('\n')
      .find((l) => l.includes('app says from-journal'))!;
    expect(line).to.match(/ site=journal mount=\/app /);
  });

  it('the JSON access log has the site', async () => {
    await waitFor(async () => (await lines(accessLog())).length >= 4, { what: 'four access log lines' });
    const entries = (await lines(accessLog())).map((l) => JSON.parse(l) as { site: string; mount: string });
    expect(entries.map((e) => `${e.site} ${e.mount}`).slice(0, 4)).to.have.members(['shop /', 'shop /app', 'journal /', 'journal /app']);
  });
});

describe('sites: --log-format vhost_combined', () => {
  it('starts each combined line with the site name and the listener’s port (Apache’s %v:%p)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hostd-vcombined-'));
    const ports = await freePorts(2);
    const hostd = await spawnHostd([
      '--sites',
      writeSites(dir, ports),
      '--no-supervisor',
      '--log-format',
      'vhost_combined',
      '--status',
      'off',
    ]);
    try {
      await getText(`http://127.0.0.1:${ports[1]}/app/combined`, { 'user-agent': 'ua' });
      await waitFor(() => hostd.stdout().includes('/app/combined'), { what: 'the access log line' });
      const line = hostd
        .stdout()
        .split('\n')
        .find((l) => l.includes('/app/combined'))!;
      expect(line).to.match(
        new RegExp(`^journal:${ports[1]} 127\\.0\\.0\\.1 - - \\[[^\\]]+\\] "GET /app/combined HTTP/1\\.1" 200 3 "-" "ua"$`),
      );
    } finally {
      expect(await hostd.stop()).to.equal(0);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('sites: names as configuration', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'hostd-names-check-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('two vhosts with one site name are a config error (file names, or name:), and a bad name: says what a name is', async () => {
    for (const d of ['x', 'y']) mkdirSync(join(dir, d));
    writeFileSync(join(dir, 'x/shop.yaml'), 'serverName: shop.test\n');
    writeFileSync(join(dir, 'y/shop.yml'), 'serverName: shop2.test\n');
    writeFileSync(join(dir, 'x/blog.yaml'), 'name: news\nserverName: blog.test\n');
    writeFileSync(join(dir, 'y/news.yaml'), 'serverName: news.test\n');
    writeFileSync(join(dir, 'y/odd.yaml'), 'serverName: odd.test\nname: "my site"\n');
    const r = await runCli(['check', '--sites', join(dir, 'x'), '--sites', join(dir, 'y')]);
    expect(r.code).to.equal(1);
    // A name taken from the file name points at the file's first line.
    expect(r.stderr).to.include(
      `${join(dir, 'y/shop.yml')}:1: name: the site name "shop" is already the name of ${join(dir, 'x/shop.yaml')}:1`,
    );
    expect(r.stderr).to.include(
      `${join(dir, 'y/news.yaml')}:1: name: the site name "news" is already the name of ${join(dir, 'x/blog.yaml')}:1`,
    );
    expect(r.stderr).to.match(/odd\.yaml:2: name: expected a site name \(letters, digits, "\.", "_", "-"; up to 64\), got "my site"/);
  });
});
