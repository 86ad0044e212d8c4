// The `listen` mapping and its `proxyProtocol` key: how vhost files and objects resolve, what
// --listen keeps, and the problems reported (file:line) for bad values, tls, and vhosts on one
// address that disagree.
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatProblem, loadSites, resolveVhost } from '../shared/config/index.js';
import { ROOT } from './helpers/host.js';

describe('deploy: listen { port, host, proxyProtocol } in the configuration', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'hostd-deploy-config-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const resolve = (listen: unknown, opts: { listen?: string; tls?: boolean } = {}) =>
    resolveVhost(
      { serverName: 'a.test', listen, ...(opts.tls ? { tls: { cert: join(ROOT, 'package.json'), key: join(ROOT, 'package.json') } } : {}) },
      { file: '<api>', baseDir: dir, listen: opts.listen },
    );

  /** The problems of these files, with their folder left out of the messages. */
  async function problems(files: Record<string, string>): Promise<string[]> {
    const sub = mkdtempSync(join(dir, 'sites-'));
    for (const [name, text] of Object.entries(files)) writeFileSync(join(sub, name), text);
    const r = await loadSites([sub]);
    return r.problems.map(formatProblem).map((p) => p.split(`${sub}/`).join(''));
  }

  it('the mapping resolves like the string forms, with proxyProtocol when set', () => {
    expect(resolve({ port: 8080, proxyProtocol: true }).vhost!.listen).to.deep.equal({ host: '0.0.0.0', port: 8080, proxyProtocol: true });
    expect(resolve({ port: 8081, host: '127.0.0.1' }).vhost!.listen).to.deep.equal({ host: '127.0.0.1', port: 8081 });
    expect(resolve({ port: 8082, host: '::1', proxyProtocol: false }).vhost!.listen).to.deep.equal({ host: '::1', port: 8082 });
    expect(resolve('127.0.0.1:8083').vhost!.listen).to.deep.equal({ host: '127.0.0.1', port: 8083 });
  });

  it('--listen moves the address and keeps proxyProtocol', () => {
    expect(resolve({ port: 8080, proxyProtocol: true }, { listen: '127.0.0.1:9000' }).vhost!.listen).to.deep.equal({
      host: '127.0.0.1',
      port: 9000,
      proxyProtocol: true,
    });
    expect(resolve({ port: 8080 }, { listen: '9001' }).vhost!.listen).to.deep.equal({ host: '0.0.0.0', port: 9001 });
  });

  it('bad values are problems naming the key', () => {
    const msgs = (listen: unknown, opts?: { tls?: boolean }) => resolve(listen, opts).problems.map((p) => p.message);
    expect(msgs({ port: 1, proxyProtocol: 'yes' })).to.deep.equal([
      'listen.proxyProtocol: expected true, false or a mapping { trust: [CIDR, ...] }, got "yes"',
    ]);
    expect(msgs({ host: '127.0.0.1' })).to.deep.equal(['listen: missing required key "port"']);
    expect(msgs({ port: 70000 })).to.deep.equal(['listen.port: must be at most 65535, got 70000']);
    expect(msgs({ port: 1, host: 'not a host' })).to.deep.equal(['listen.host: expected an IP address or host name, got "not a host"']);
    expect(msgs({ port: 1, proxy: true })).to.deep.equal(['listen: unknown key "proxy" (known keys: port, host, proxyProtocol)']);
    expect(msgs({ port: 1, proxyProtocol: true }, { tls: true })).to.deep.equal([
      'listen.proxyProtocol: works on plain HTTP listeners only; with tls, terminate TLS at the proxy and send plain HTTP with the PROXY header',
    ]);
  });

  it('in files: problems have their line; vhosts on one address must agree on proxyProtocol', async () => {
    expect(await problems({ 'a.yaml': 'serverName: a.test\nlisten:\n  port: 8080\n  proxyProtocol: 1\n' })).to.deep.equal([
      'a.yaml:4: listen.proxyProtocol: expected true, false or a mapping { trust: [CIDR, ...] }, got 1',
    ]);
    expect(
      await problems({
        'a.yaml': 'serverName: a.test\nlisten: { port: 8080, proxyProtocol: true }\n',
        'b.yaml': 'serverName: b.test\n\nlisten: 8080\n',
        'c.yaml': 'serverName: c.test\nlisten: { port: 8080, host: 0.0.0.0, proxyProtocol: true }\n',
        'd.yaml': 'serverName: d.test\nlisten: 8081\n',
      }),
    ).to.deep.equal([
      'b.yaml:3: listen: 0.0.0.0:8080 expects a PROXY protocol header for a.yaml:2; every vhost on one address must set the same proxyProtocol (and trust list)',
    ]);
  });

  it('proxyProtocol: { trust }: resolved with its list; a bad entry names its line and index; one address, one list', async () => {
    expect(resolve({ port: 8080, proxyProtocol: { trust: ['10.0.0.0/8', '::1'] } }).vhost!.listen).to.deep.equal({
      host: '0.0.0.0',
      port: 8080,
      proxyProtocol: true,
      proxyTrust: ['10.0.0.0/8', '::1'],
    });
    expect(resolve({ port: 8080, proxyProtocol: { trust: ['10.0.0.1'] } }, { listen: '9000' }).vhost!.listen.proxyTrust).to.deep.equal([
      '10.0.0.1',
    ]);
    expect(
      await problems({ 'a.yaml': 'serverName: a.test\nlisten:\n  port: 8080\n  proxyProtocol:\n    trust: [10.0.0.1, 10.0.0.0/]\n' }),
    ).to.deep.equal(['a.yaml:5: listen.proxyProtocol.trust[1]: "10.0.0.0/" has a bad prefix length']);
    expect(
      await problems({
        'a.yaml': 'serverName: a.test\nlisten: { port: 8080, proxyProtocol: { trust: [10.0.0.1] } }\n',
        'b.yaml': 'serverName: b.test\nlisten: { port: 8080, proxyProtocol: true }\n',
      }),
    ).to.have.length(1);
  });
});
