// `hostd reload NAME [--mount /x]` (native-front/cli/status.ts) against a real hostd with two
// sites, over the default status socket: the named site's pools restart (its in-memory counter
// starts again) while the other site's keep counting; an unknown site and a broken file exit 1
// with the server's message, and the previous configuration keeps serving.
import { expect } from 'chai';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts, getText, type HostdProcess, runCli, spawnHostd, testRuntimeDir } from './helpers/index.js';

const COUNTER = 'let n = 0;\nexport default { fetch: () => new Response(String(++n)) };\n';

describe('hostd reload NAME: one site restarts, the others run on', function () {
  this.timeout(90_000);
  let dir: string;
  let hostd: HostdProcess;
  let ports: number[];
  const env = { HOSTD_RUNTIME_DIR: testRuntimeDir() };
  const count = async (site: number) => {
    const r = await getText(`http://127.0.0.1:${ports[site]}/`);
    expect(r.status).to.equal(200);
    return Number(r.text);
  };
  const vhost = (port: number) => `serverName: ["*"]\nlisten: "127.0.0.1:${port}"\napps:\n  - url: /\n    module: ./counter.mjs\n`;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hostd-reload-cli-'));
    ports = await freePorts(2);
    await writeFile(join(dir, 'counter.mjs'), COUNTER);
    await writeFile(join(dir, 'alpha.yaml'), vhost(ports[0]));
    await writeFile(join(dir, 'beta.yaml'), vhost(ports[1]));
    hostd = await spawnHostd(['--sites', dir, '--access-log', 'off'], { env });
  });

  after(async () => {
    await hostd?.stop();
  });

  it('reload alpha: alpha counts from 1 again, beta keeps its count', async () => {
    for (let i = 1; i <= 3; i++) {
      expect(await count(0)).to.equal(i);
      expect(await count(1)).to.equal(i);
    }
    const r = await runCli(['reload', 'alpha'], { env });
    expect(r.stderr).to.equal('');
    expect(r.code).to.equal(0);
    expect(r.stdout).to.equal('reloaded site alpha (configuration generation 2)\n');
    expect(await count(0)).to.equal(1);
    expect(await count(1)).to.equal(4);
  });

  it('--mount names one app mount of the site', async () => {
    const r = await runCli(['reload', 'beta', '--mount', '/'], { env });
    expect(r.code).to.equal(0);
    expect(r.stdout).to.match(/^reloaded site beta mount \/ \(configuration generation \d+\)\n$/);
    expect(await count(1)).to.equal(1);
  });

  it('an unknown site or mount: exit 1 with the server message', async () => {
    const site = await runCli(['reload', 'gamma'], { env });
    expect(site.code).to.equal(1);
    expect(site.stderr).to.equal('hostd reload: site gamma: no site named "gamma" (sites: alpha, beta)\n');
    const mount = await runCli(['reload', 'alpha', '--mount', '/api'], { env });
    expect(mount.code).to.equal(1);
    expect(mount.stderr).to.equal('hostd reload: site alpha mount /api: site "alpha" has no app mounted at /api (apps: /)\n');
  });

  it('a broken file: exit 1 with its file:line problem, and the site keeps serving as it was', async () => {
    const before = await count(0);
    await writeFile(join(dir, 'alpha.yaml'), vhost(ports[0]).replace('module:', 'modul:'));
    const r = await runCli(['reload', 'alpha'], { env });
    expect(r.code).to.equal(1);
    expect(r.stderr).to.match(new RegExp(`^hostd reload: site alpha: ${join(dir, 'alpha.yaml')}:\\d+: `));
    expect(await count(0)).to.equal(before + 1);
  });
});
