// Issue 18, items 3, 6 and 10: what hostd believes about a client behind proxies, over real
// sockets. X-Forwarded-For / -Proto repeated on several lines (HAProxy's `option forwardfor` adds
// its own line after the client's), PROXY headers from peers that are not trusted proxies (the
// loopback attack: a client naming a trusted proxy's address to have its X-Forwarded-For
// believed), and listeners that accept before their routing is in place.
import { expect } from 'chai';
import { connect } from 'node:net';
import { createHost, type Host } from '../index.js';
import type { VhostConfig } from '../shared/config/types.js';
import { freePort, freePorts, KITCHEN, quietLog, rawExchange, startHost, type TestHost, waitFor } from './helpers/index.js';

const headAndBody = (t: string) => t.includes('\r\n\r\n') && t.endsWith('}');

/** The /info answer of the kitchen app (fetch interface) for a raw request. */
function info(text: string): { url: string; remoteAddress: string } {
  expect(text, 'an answer').to.match(/^HTTP\/1\.1 200/);
  return JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as { url: string; remoteAddress: string };
}

/**
 * Sends `text` from the local address `from` (any 127/8 address reaches a loopback listener on
 * Linux); resolves with what came back before the server closed, and whether it closed.
 */
function sendFrom(from: string, port: number, text: string): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1', localAddress: from });
    let got = '';
    s.on('data', (d) => {
      got += d.toString('latin1');
      if (headAndBody(got)) {
        s.destroy();
        resolve({ text: got, closed: false });
      }
    });
    s.on('error', () => undefined); // a reset is a close here
    s.on('close', () => resolve({ text: got, closed: true }));
    s.on('connect', () => s.write(text));
    s.setTimeout(15_000, () => reject(new Error(`no answer and no close from ${from}; got ${JSON.stringify(got)}`)));
  });
}

describe('contain: X-Forwarded-For and -Proto on several lines (issue 18, item 3)', function () {
  this.timeout(60_000);
  let h: TestHost;
  before(async () => {
    h = await startHost([{ serverName: ['*'], apps: [{ url: '/', module: KITCHEN }] }], { trustProxy: '127.0.0.1/32' });
  });
  after(() => h?.close());

  it('joins every line into one list: the client is the rightmost untrusted hop, the scheme the one its proxy saw', async () => {
    // A client sent its own X-Forwarded-For and -Proto lines; HAProxy (trusted) added its own below.
    const r = info(
      await rawExchange(
        h.port,
        'GET /info HTTP/1.1\r\nHost: a.test\r\nX-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Proto: https\r\n' +
          'X-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Proto: http\r\nConnection: close\r\n\r\n',
        headAndBody,
      ),
    );
    expect(r.remoteAddress).to.equal('203.0.113.9');
    expect(r.url).to.match(/^http:\/\//);
  });

  it('one X-Forwarded-Proto line from a proxy that overwrites it applies to the client two hops away', async () => {
    // 127.0.0.1 -> a second trusted proxy 127.0.0.1 in the chain; nginx set -Proto once (https).
    const r = info(
      await rawExchange(
        h.port,
        'GET /info HTTP/1.1\r\nHost: a.test\r\nX-Forwarded-For: 198.51.100.4\r\nX-Forwarded-For: 127.0.0.1\r\n' +
          'X-Forwarded-Proto: https\r\nConnection: close\r\n\r\n',
        headAndBody,
      ),
    );
    expect([r.remoteAddress, r.url.slice(0, 8)]).to.deep.equal(['198.51.100.4', 'https://']);
  });
});

describe('contain: PROXY headers only from trusted peers (issue 18, item 6)', function () {
  this.timeout(60_000);
  const hosts: TestHost[] = [];
  afterEach(async () => {
    await Promise.all(hosts.splice(0).map((h) => h.close()));
  });
  const log = quietLog();
  const start = async (proxyProtocol: true | { trust: string[] }) => {
    const h = await startHost(
      [{ serverName: ['*'], listen: { port: 0, host: '127.0.0.1', proxyProtocol }, apps: [{ url: '/', module: KITCHEN }] }],
      { trustProxy: '127.0.0.1/32', errorLog: log },
    );
    hosts.push(h);
    return h;
  };
  // The attacker reaches hostd's port directly and names the trusted proxy (127.0.0.1) as the
  // client, so that its X-Forwarded-For would be believed.
  const attack =
    'PROXY TCP4 127.0.0.1 127.0.0.1 40000 80\r\nGET /info HTTP/1.1\r\nHost: a.test\r\nX-Forwarded-For: 6.6.6.6\r\nConnection: close\r\n\r\n';

  it('a peer outside proxyProtocol.trust is closed without an answer; the trusted proxy is served', async () => {
    const h = await start({ trust: ['127.0.0.1'] });
    const refused = await sendFrom('127.0.0.2', h.port, attack);
    expect(refused, 'the loopback attack').to.deep.equal({ text: '', closed: true });
    await waitFor(() => log.lines.some((l) => /PROXY-protocol connection refused .*127\.0\.0\.2.*not a trusted proxy/.test(l)), {
      what: 'the refusal in the error log',
    });
    // The trusted proxy's own header still names the client, whose X-Forwarded-For is its own business.
    const ok = await sendFrom(
      '127.0.0.1',
      h.port,
      'PROXY TCP4 198.51.100.7 127.0.0.1 40000 80\r\nGET /info HTTP/1.1\r\nHost: a.test\r\nX-Forwarded-For: 6.6.6.6\r\nConnection: close\r\n\r\n',
    );
    expect(info(ok.text).remoteAddress).to.equal('198.51.100.7');
    // And what the trusted proxy forwards for a client it names as itself is believed, as before.
    expect(info((await sendFrom('127.0.0.1', h.port, attack)).text).remoteAddress).to.equal('6.6.6.6');
  });

  it('proxyProtocol: true trusts the --trust-proxy list (nginx: set_real_ip_from), not any peer', async () => {
    const h = await start(true);
    expect(await sendFrom('127.0.0.2', h.port, attack)).to.deep.equal({ text: '', closed: true });
  });

  it('a trust entry that is not an address or CIDR is a config error naming the key', async () => {
    const bad: VhostConfig = { serverName: ['*'], listen: { port: 0, proxyProtocol: { trust: ['10.0.0.0/'] } } };
    const err = await createHost({ sites: [bad], errorLog: quietLog() }).then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message).to.match(/listen\.proxyProtocol\.trust\[0\].*bad prefix length/);
  });
});

/**
 * Requests `port` from before it opens (connection refused: tried again at once) until `done`
 * has settled and five more were answered; resolves with every status received.
 */
async function hammer(port: number, done: Promise<unknown>): Promise<number[]> {
  const statuses: number[] = [];
  let settled = false;
  void done.finally(() => {
    settled = true;
  });
  let after = 0;
  while (!settled || after < 5) {
    const text = await rawExchange(port, 'GET /hello HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n', (t) =>
      t.includes('\r\n\r\n'),
    ).catch(() => ''); // refused: not open yet
    if (text === '') {
      await new Promise((r) => setImmediate(r));
      continue;
    }
    statuses.push(Number(text.slice(9, 12)));
    if (settled) after++;
  }
  await done;
  return statuses;
}

describe('contain: no listener accepts before its routing is in place (issue 18, item 10)', function () {
  this.timeout(60_000);
  let host: Host | undefined;
  afterEach(() => host?.close());
  const plain = (port: number): VhostConfig => ({ serverName: ['*'], listen: port, apps: [{ url: '/', module: KITCHEN }] });
  const proxied: VhostConfig = { serverName: ['*'], listen: { port: 0, host: '127.0.0.1', proxyProtocol: true } };

  it('at start: a plain listener beside a proxyProtocol one never answers 404 from the moment it opens', async () => {
    const port = await freePort();
    host = await createHost({ accessLog: false, errorLog: quietLog(), fronts: 1, sites: [plain(port), proxied] });
    const statuses = await hammer(port, host.listen());
    expect(statuses.filter((s) => s !== 200)).to.deep.equal([]);
  });

  it('on reload: a new plain listener (beside a new proxyProtocol one) never answers 404 either', async () => {
    const [first, port] = await freePorts(2);
    host = await createHost({ accessLog: false, errorLog: quietLog(), fronts: 1, sites: [plain(first)] });
    await host.listen();
    const statuses = await hammer(port, host.reload([plain(first), plain(port), proxied]));
    expect(statuses.filter((s) => s !== 200)).to.deep.equal([]);
  });
});
