// TLS: per-vhost certificates picked by SNI (two self-signed certificates made here with
// openssl), certificates re-read on SIGHUP, a broken certificate rejected by the reload, and
// redirectHttps on a plain vhost.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect, type PeerCertificate } from 'node:tls';
import { expect } from 'chai';
import { request } from 'undici';
import { type HostdProcess, makeSite, type Site, selfSigned, spawnHostd, startHost, waitFor } from './helpers/index.js';

interface Probe {
  cert: PeerCertificate;
  body: string;
}

/** A TLS connection with `servername` (SNI, omitted when undefined) and one GET with that Host. */
function probe(port: number, servername: string | undefined, host = servername ?? 'localhost'): Promise<Probe> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1', servername, rejectUnauthorized: false }, () => {
      const cert = s.getPeerCertificate();
      s.write(`GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      let data = '';
      s.on('data', (d) => (data += d));
      s.on('end', () => resolve({ cert, body: data.split('\r\n\r\n').slice(1).join('\r\n\r\n') }));
    });
    s.on('error', reject);
    s.setTimeout(10_000, () => s.destroy(new Error('TLS probe timed out (10 s of silence)')));
  });
}

const sans = (c: PeerCertificate) => c.subjectaltname;

describe('ops: TLS and SNI', function () {
  this.timeout(30_000);
  let site: Site;
  let hostd: HostdProcess;
  let certs: string;

  before(async () => {
    site = await makeSite();
    certs = join(site.root, 'certs');
    await mkdir(certs);
    await selfSigned(certs, 'a.test');
    await selfSigned(certs, 'b.test');
    for (const n of ['a', 'b']) {
      await mkdir(join(site.root, n));
      await writeFile(join(site.root, n, 'index.html'), `site ${n}`);
    }
    const vhost = (n: string) =>
      `serverName: ${n}.test\nlisten: "127.0.0.1:0"\ntls: { cert: ../certs/${n}.test.pem, key: ../certs/${n}.test.key }\nstatic:\n  - url: /\n    dir: ../${n}\n`;
    await site.writeVhost(vhost('a'));
    await writeFile(join(site.sites, 'b.yaml'), vhost('b'));
    hostd = await spawnHostd(['--sites', site.sites, '--access-log', 'off']);
  });
  after(async () => {
    if (hostd) expect(await hostd.stop()).to.equal(0);
    if (site) await rm(site.root, { recursive: true, force: true });
  });

  it('listens with TLS and picks the certificate by SNI', async () => {
    expect(hostd.stderr()).to.match(/listening address=https:\/\//);
    const a = await probe(hostd.port, 'a.test');
    expect(a.cert.subject.CN).to.equal('a.test');
    expect(sans(a.cert)).to.equal('DNS:a.test');
    expect(a.body).to.equal('site a');
    const b = await probe(hostd.port, 'b.test');
    expect(b.cert.subject.CN).to.equal('b.test');
    expect(b.body).to.equal('site b');
    // Without SNI: the first vhost's certificate (files load sorted: b.yaml, main.yaml); the
    // Host header still routes.
    const none = await probe(hostd.port, undefined, 'a.test');
    expect(none.cert.subject.CN).to.equal('b.test');
    expect(none.body).to.equal('site a');
  });

  it('re-reads certificates on SIGHUP (SNI and default)', async () => {
    const before = {
      a: (await probe(hostd.port, 'a.test')).cert.fingerprint256,
      b: (await probe(hostd.port, 'b.test')).cert.fingerprint256,
    };
    await selfSigned(certs, 'a.test'); // renewed in place: same path, new key and certificate
    await selfSigned(certs, 'b.test');
    hostd.proc.kill('SIGHUP');
    await hostd.waitFor(/reloaded generation=2/);
    const a = await probe(hostd.port, 'a.test');
    const b = await probe(hostd.port, 'b.test');
    const none = await probe(hostd.port, undefined, 'a.test');
    expect(a.cert.fingerprint256).to.not.equal(before.a);
    expect(b.cert.fingerprint256).to.not.equal(before.b);
    expect(none.cert.fingerprint256).to.equal(b.cert.fingerprint256);
    expect(a.body).to.equal('site a');
  });

  it('keeps the running certificates when a new one does not load', async () => {
    const current = (await probe(hostd.port, 'b.test')).cert.fingerprint256;
    await writeFile(join(certs, 'b.test.pem'), '-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n');
    const mark = hostd.stderr().length;
    hostd.proc.kill('SIGHUP');
    await waitFor(() => /reload failed/.test(hostd.stderr().slice(mark)), { what: 'reload failure' });
    expect(hostd.stderr().slice(mark)).to.match(/b\.yaml: tls: certificate .*b\.test\.pem/);
    const b = await probe(hostd.port, 'b.test');
    expect(b.cert.fingerprint256).to.equal(current);
    expect(b.body).to.equal('site b');
    await selfSigned(certs, 'b.test');
  });
});

describe('ops: redirectHttps', () => {
  it('answers a plain vhost with redirectHttps with 308 to https, keeping path and query', async () => {
    const site = await makeSite();
    const h = await startHost([
      { serverName: ['secure.test'], redirectHttps: 8443, static: [{ url: '/', dir: join(site.root, 'public') }] },
      { serverName: ['std.test'], redirectHttps: true, static: [{ url: '/', dir: join(site.root, 'public') }] },
      { serverName: ['plain.test'], static: [{ url: '/', dir: join(site.root, 'public') }] },
    ]);
    try {
      let res = await request(h.url('/a/b?x=1&y=2'), { headers: { host: 'secure.test:8080' } });
      await res.body.dump();
      expect(res.statusCode).to.equal(308);
      expect(res.headers.location).to.equal('https://secure.test:8443/a/b?x=1&y=2');
      res = await request(h.url('/'), { method: 'HEAD', headers: { host: 'std.test' } });
      expect(res.statusCode).to.equal(308);
      expect(res.headers.location).to.equal('https://std.test/');
      res = await request(h.url('/'), { headers: { host: 'plain.test' } });
      expect(res.statusCode).to.equal(200);
      expect(await res.body.text()).to.equal('static hello\n');
    } finally {
      await h.close();
      await rm(site.root, { recursive: true, force: true });
    }
  });
});
