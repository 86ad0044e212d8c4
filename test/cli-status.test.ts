// `hostd status` (native-front/cli/status.ts) against a real hostd: the table of sites, mounts,
// workers, memory, requests, restarts and queues over the status listener's default Unix socket
// (no --status on either side: both find it in HOSTD_RUNTIME_DIR), the raw document with --json,
// the bearer token, and a clear exit 1 when no hostd is there.
import { expect } from 'chai';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type StatusDoc, statusTable } from '../native-front/cli/status-table.js';
import { getText, type HostdProcess, makeSite, runCli, type Site, spawnHostd, testRuntimeDir } from './helpers/index.js';

/** The rows of the table under its header, cut at the header's column starts: [{SITE: .., MOUNT: ..}]. */
function tableRows(stdout: string): Record<string, string>[] {
  const lines = stdout.trimEnd().split('\n');
  const h = lines.findIndex((l) => l.startsWith('SITE '));
  expect(h, `no table header in:\n${stdout}`).to.be.at.least(0);
  const header = lines[h];
  const cols = [...header.matchAll(/\S+/g)].map((m) => ({ name: m[0], at: m.index }));
  return lines
    .slice(h + 1)
    .map((line) =>
      Object.fromEntries(cols.map((c, i) => [c.name, line.slice(c.at, i + 1 < cols.length ? cols[i + 1].at : undefined).trim()])),
    );
}

describe('hostd status: the running host as a table', function () {
  this.timeout(60_000);
  let site: Site;
  let hostd: HostdProcess;
  let tokenFile: string;
  /** The runtime directory both the server and the status commands use. */
  const env = { HOSTD_RUNTIME_DIR: testRuntimeDir() };

  before(async () => {
    site = await makeSite();
    tokenFile = join(site.root, 'token');
    await writeFile(tokenFile, 'a-token-of-enough-characters\n');
    hostd = await spawnHostd(['--sites', site.sites, '--access-log', 'off', '--status-token-file', tokenFile], { env });
    for (let i = 0; i < 3; i++) expect((await getText(`http://127.0.0.1:${hostd.port}/app/x`)).status).to.equal(200);
  });

  after(async () => {
    await hostd?.stop();
  });

  it('prints one line per mount with its site, kind, workers, memory, requests and restarts', async () => {
    const r = await runCli(['status', '--status-token-file', tokenFile], { env });
    expect(r.stderr).to.equal('');
    expect(r.code).to.equal(0);
    expect(r.stdout.split('\n')[0]).to.match(/^hostd serving · up \d+s · generation 1 · 1 front · \d+ in flight · \d+ MB resident$/);
    const rows = tableRows(r.stdout);
    // The file's order (static, then apps); the site and its address on its first line.
    expect(rows.map((row) => [row.SITE, row.LISTEN, row.MOUNT, row.KIND])).to.deep.equal([
      ['main', '127.0.0.1:0', '/', 'static'],
      ['', '', '/app', 'app'],
    ]);
    const app = rows[1];
    expect(Number(app.WORKERS)).to.be.at.least(1);
    expect(app.BUSY).to.equal('0');
    expect(app.QUEUE).to.equal('0');
    expect(app.MEMORY).to.match(/^\d+ MB$/);
    expect(app.REQUESTS).to.equal('3');
    expect(app.RESTARTS).to.equal('0');
    expect(app.SERVES).to.equal(site.appFile);
    expect(rows[0]).to.include({ WORKERS: '-', MEMORY: '-', REQUESTS: '0', SERVES: join(site.root, 'public') });
  });

  it('--json prints the /status document as the listener sends it', async () => {
    const r = await runCli(['status', '--json', '--status-token-file', tokenFile], { env });
    expect(r.code).to.equal(0);
    const doc = JSON.parse(r.stdout) as { state: string; hosts: { file: string; mounts: { url: string }[] }[] };
    expect(doc.state).to.equal('serving');
    expect(doc.hosts.map((h) => [h.file, h.mounts.map((m) => m.url)])).to.deep.equal([[site.vhostFile, ['/', '/app']]]);
  });

  it("reads an older hostd's document too (hosts[] only, no sites[] summary): the same rows", async () => {
    const json = await runCli(['status', '--json', '--status-token-file', tokenFile], { env });
    const doc = JSON.parse(json.stdout) as StatusDoc;
    expect(doc.sites, 'this hostd sends the sites[] summary').to.be.an('array');
    const rowsOf = (d: StatusDoc) => tableRows(statusTable(d)).map(({ MEMORY: _m, ...rest }) => rest);
    const { sites: _sites, ...older } = doc;
    expect(rowsOf(older)).to.deep.equal(rowsOf(doc));
  });

  it('without the token the listener refuses, and status exits 1 saying so', async () => {
    const r = await runCli(['status'], { env });
    expect(r.code).to.equal(1);
    expect(r.stdout).to.equal('');
    expect(r.stderr).to.equal('hostd status: the status listener answered 401: a bearer token is required\n');
  });
});

describe('hostd status: no hostd there', function () {
  this.timeout(30_000);

  it('exits 1 naming the socket it tried, the default one included (HOSTD_RUNTIME_DIR)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hostd-runtime-'));
    const r = await runCli(['status'], { env: { HOSTD_RUNTIME_DIR: dir } });
    expect(r.code).to.equal(1);
    expect(r.stdout).to.equal('');
    expect(r.stderr).to.equal(
      `hostd: unix:${join(dir, 'hostd.sock')}: no hostd is running there (start hostd, or point at its status listener with --status ADDR)\n`,
    );
  });

  it('and on a TCP address nobody listens on', async () => {
    const r = await runCli(['status', '--status', '127.0.0.1:1']);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.include('127.0.0.1:1: no hostd is running there');
  });
});
