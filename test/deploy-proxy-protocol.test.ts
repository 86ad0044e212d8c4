// native-front/proxy-protocol: the v1/v2 header parser (valid, incomplete and malformed input,
// round trips, random bytes) and the gateway in front of a real uWS app over real sockets.
import { expect } from 'chai';
import fc from 'fast-check';
import { connect, type Socket } from 'node:net';
import type { TemplatedApp } from 'uWebSockets.js';
import {
  encodeV1,
  encodeV2,
  encodeV2Local,
  listenWithProxyProtocol,
  parseProxyHeader,
  peerAddressOf,
  type ProxyProtocolListen,
} from '../native-front/proxy-protocol/index.js';
import { formatIp, ipBytes } from '../native-front/proxy-protocol/address.js';
import { V2_SIGNATURE } from '../native-front/proxy-protocol/parse.js';
import { loadUws } from '../native-front/http/uws.js';
import { pollUntil } from './helpers/proxies.js';

const HTTP = Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n\r\n');

function v2(cmd: number, fam: number, body: Buffer): Buffer {
  const head = Buffer.from([0x20 | cmd, fam, 0, 0]);
  head.writeUInt16BE(body.length, 2);
  return Buffer.concat([V2_SIGNATURE, head, body]);
}

function header(buf: Buffer) {
  const r = parseProxyHeader(buf);
  if (r.kind !== 'header') throw new Error(`expected a header, got ${JSON.stringify(r)}`);
  return r;
}

function reason(buf: Buffer, max?: number): string {
  const r = parseProxyHeader(buf, max);
  if (r.kind !== 'invalid') throw new Error(`expected invalid, got ${r.kind}`);
  return r.reason;
}

describe('deploy: PROXY protocol header parser', () => {
  describe('v1', () => {
    it('TCP4 and TCP6 give the source and destination; IPv6 comes back canonical', () => {
      const r4 = header(Buffer.concat([Buffer.from('PROXY TCP4 203.0.113.7 10.0.0.1 56324 443\r\n'), HTTP]));
      expect(r4.length).to.equal('PROXY TCP4 203.0.113.7 10.0.0.1 56324 443\r\n'.length);
      expect(r4.header).to.deep.include({ version: 1, command: 'proxy', family: 'ipv4', transport: 'stream' });
      expect(r4.header.source).to.deep.equal({ address: '203.0.113.7', port: 56324 });
      expect(r4.header.destination).to.deep.equal({ address: '10.0.0.1', port: 443 });
      const r6 = header(Buffer.from('PROXY TCP6 2001:DB8:0:0:0:0:0:7 ::1 65535 0\r\n'));
      expect(r6.header.source).to.deep.equal({ address: '2001:db8::7', port: 65535 });
      expect(r6.header.destination).to.deep.equal({ address: '::1', port: 0 });
    });

    it('UNKNOWN (with or without endpoints) has no source: the receiver uses the real peer', () => {
      for (const line of ['PROXY UNKNOWN\r\n', 'PROXY UNKNOWN ffff:f::1 ffff:f::2 1 2\r\n']) {
        const r = header(Buffer.from(line));
        expect(r.length).to.equal(line.length);
        expect(r.header.family).to.equal('unknown');
        expect(r.header.source).to.equal(undefined);
      }
    });

    it('every proper prefix of a header is incomplete', () => {
      const line = Buffer.from('PROXY TCP6 2001:db8::7 2001:db8::1 1234 80\r\n');
      for (let n = 0; n < line.length; n++) expect(parseProxyHeader(line.subarray(0, n)).kind, `prefix ${n}`).to.equal('incomplete');
      expect(parseProxyHeader(line).kind).to.equal('header');
    });

    it('malformed lines are invalid, each with its reason', () => {
      const bad: [string, RegExp][] = [
        ['PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n', /TCP4, TCP6 or UNKNOWN/],
        ['PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n', /single spaces/],
        ['PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n', /single spaces/],
        ['PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n', /single spaces/],
        ['PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n', /IPv4/],
        ['PROXY TCP4 ::1 5.6.7.8 1 2\r\n', /IPv4/],
        ['PROXY TCP6 1.2.3.4 ::1 1 2\r\n', /IPv6/],
        ['PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n', /leading zeros/],
        ['PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n', /0\.\.65535/],
        ['PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n', /0\.\.65535/],
        ['PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n', /LF without CR/],
        ['PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n', /control/],
        ['PROXY TCP4 1.2.3.4 5.6.7.8 1 2\u00e9\r\n', /non-ASCII/],
        [`PROXY UNKNOWN ${'x'.repeat(120)}`, /no CRLF within 107 bytes/],
        ['proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n', /not a PROXY protocol header/],
        ['PROXYTCP4 1.2.3.4 5.6.7.8 1 2\r\n', /not a PROXY protocol header/],
      ];
      for (const [line, why] of bad) expect(reason(Buffer.from(line, 'latin1')), JSON.stringify(line)).to.match(why);
    });

    it('a 107-byte line is the longest accepted', () => {
      const base = 'PROXY UNKNOWN ';
      const ok = base + 'x'.repeat(107 - base.length - 2) + '\r\n';
      expect(ok.length).to.equal(107);
      expect(header(Buffer.from(ok)).length).to.equal(107);
      expect(reason(Buffer.from(base + 'x'.repeat(107 - base.length - 1) + '\r\n'))).to.match(/107/);
    });
  });

  describe('v2', () => {
    it('PROXY over TCP4 and TCP6, with TLVs returned in order', () => {
      const b4 = Buffer.from([203, 0, 113, 7, 10, 0, 0, 1, 0xdc, 0x04, 0x01, 0xbb]);
      const tlvs = Buffer.from([0x01, 0x00, 0x02, 0x68, 0x32, 0x02, 0x00, 0x01, 0x61]); // ALPN "h2", authority "a"
      const r4 = header(Buffer.concat([v2(1, 0x11, Buffer.concat([b4, tlvs])), HTTP]));
      expect(r4.length).to.equal(16 + 12 + tlvs.length);
      expect(r4.header).to.deep.include({ version: 2, command: 'proxy', family: 'ipv4', transport: 'stream' });
      expect(r4.header.source).to.deep.equal({ address: '203.0.113.7', port: 56324 });
      expect(r4.header.destination).to.deep.equal({ address: '10.0.0.1', port: 443 });
      expect(r4.header.tlvs.map((t) => [t.type, t.value.toString()])).to.deep.equal([
        [1, 'h2'],
        [2, 'a'],
      ]);
      const b6 = Buffer.concat([ipBytes('2001:db8::7'), ipBytes('::ffff:10.0.0.1'), Buffer.from([0, 80, 1, 0])]);
      const r6 = header(v2(1, 0x21, b6));
      expect(r6.header.source).to.deep.equal({ address: '2001:db8::7', port: 80 });
      expect(r6.header.destination).to.deep.equal({ address: '::ffff:10.0.0.1', port: 256 });
    });

    it('LOCAL (health checks) carries no source, whatever address bytes follow', () => {
      const local = header(encodeV2Local()).header;
      expect(local).to.deep.include({ command: 'local', family: 'unknown' });
      expect(local.source).to.equal(undefined);
      const withAddr = header(v2(0, 0x11, Buffer.alloc(12, 7)));
      expect(withAddr.header.command).to.equal('local');
      expect(withAddr.header.source).to.equal(undefined);
      expect(header(v2(0, 0x11, Buffer.alloc(3))).length).to.equal(19); // short block: skipped, per the spec
    });

    it('UNSPEC, UNIX and DGRAM parse; UNIX has no IP source', () => {
      expect(header(v2(1, 0x00, Buffer.alloc(0))).header).to.deep.include({ family: 'unknown', transport: 'unspec' });
      const unix = header(v2(1, 0x31, Buffer.alloc(216)));
      expect(unix.header.family).to.equal('unix');
      expect(unix.header.source).to.equal(undefined);
      expect(header(v2(1, 0x12, Buffer.alloc(12))).header.transport).to.equal('dgram');
    });

    it('every proper prefix is incomplete, including a partial signature', () => {
      const full = encodeV2({ address: '2001:db8::1', port: 1 }, { address: '2001:db8::2', port: 2 }, [
        { type: 0xe0, value: Buffer.alloc(40, 1) },
      ]);
      for (let n = 0; n < full.length; n++) expect(parseProxyHeader(full.subarray(0, n)).kind, `prefix ${n}`).to.equal('incomplete');
      expect(header(full).length).to.equal(full.length);
    });

    it('malformed headers are invalid, each with its reason', () => {
      const addr = Buffer.alloc(12);
      const withByte = (i: number, b: number) => {
        const h = v2(1, 0x11, addr);
        h[i] = b;
        return h;
      };
      expect(reason(withByte(12, 0x11))).to.match(/version 1, expected 2/);
      expect(reason(withByte(12, 0x22))).to.match(/command 2/);
      expect(reason(withByte(13, 0x41))).to.match(/family 4/);
      expect(reason(withByte(13, 0x13))).to.match(/transport 3/);
      expect(reason(v2(1, 0x11, Buffer.alloc(4)))).to.match(/ipv4 addresses need 12 bytes/);
      expect(reason(v2(1, 0x21, Buffer.alloc(12)))).to.match(/ipv6 addresses need 36 bytes/);
      expect(reason(v2(1, 0x11, Buffer.concat([addr, Buffer.from([1, 0])])))).to.match(/truncated TLV/);
      expect(reason(v2(1, 0x11, Buffer.concat([addr, Buffer.from([1, 0, 9, 0])])))).to.match(/runs past/);
      expect(reason(v2(1, 0x11, Buffer.alloc(5000)))).to.match(/5016 bytes exceeds the 4096-byte limit/);
      expect(reason(v2(1, 0x11, Buffer.alloc(100)), 64)).to.match(/64-byte limit/);
      expect(reason(Buffer.concat([V2_SIGNATURE.subarray(0, 5), Buffer.from('x')]))).to.match(/not a PROXY/);
    });

    it('the v2 length bounds the header: the bytes after it are left alone', () => {
      const h = encodeV2({ address: '192.0.2.1', port: 9 }, { address: '192.0.2.2', port: 10 });
      const r = header(Buffer.concat([h, V2_SIGNATURE, HTTP]));
      expect(r.length).to.equal(h.length);
    });
  });

  it('neither HTTP nor TLS nor an empty read is a header', () => {
    expect(parseProxyHeader(Buffer.alloc(0)).kind).to.equal('incomplete');
    expect(reason(HTTP)).to.match(/not a PROXY protocol header/);
    expect(reason(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00]))).to.match(/not a PROXY protocol header/);
  });

  it('round trip: encode then parse gives back the endpoints (v1 and v2, IPv4 and IPv6)', () => {
    const ep = (ip: fc.Arbitrary<string>) => fc.record({ address: ip, port: fc.integer({ min: 0, max: 65535 }) });
    fc.assert(
      fc.property(fc.oneof(fc.tuple(ep(fc.ipV4()), ep(fc.ipV4())), fc.tuple(ep(fc.ipV6()), ep(fc.ipV6()))), ([src, dst]) => {
        for (const buf of [encodeV1(src, dst), encodeV2(src, dst)]) {
          const r = header(Buffer.concat([buf, HTTP]));
          expect(r.length).to.equal(buf.length);
          for (const [got, sent] of [
            [r.header.source!, src],
            [r.header.destination!, dst],
          ] as const) {
            expect(got.port).to.equal(sent.port);
            // Same address (bytes), in canonical text: WHATWG's IPv6 serializer is RFC 5952's
            // compression (it writes mapped addresses in hex, so those are compared as bytes only).
            expect(ipBytes(got.address)).to.deep.equal(ipBytes(sent.address.replace(/^::ffff:(?=\d+\.)/i, '::ffff:')));
            if (sent.address.includes(':') && !/^::ffff:/i.test(got.address))
              expect(got.address).to.equal(new URL(`http://[${sent.address}]/`).hostname.slice(1, -1));
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('formatIp writes RFC 5952 text', () => {
    const cases: [string, string][] = [
      ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
      ['2001:db8:0:1:0:0:0:1', '2001:db8:0:1::1'],
      ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
      ['1:0:0:2:0:0:3:4', '1::2:0:0:3:4'],
      ['0:0:0:0:0:0:0:0', '::'],
      ['0:0:0:0:0:0:0:1', '::1'],
      ['0:0:0:0:0:0:10:0', '::10:0'],
      ['1:2:3:4:5:6:7:0', '1:2:3:4:5:6:7:0'],
      ['::ffff:c000:0201', '::ffff:192.0.2.1'],
    ];
    for (const [input, want] of cases) expect(formatIp(ipBytes(input)), input).to.equal(want);
  });

  it('random bytes never throw, and a reported header never runs past the input', () => {
    const prefixed = fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      fc.uint8Array({ maxLength: 120 }).map((b) => Buffer.concat([V2_SIGNATURE, b])),
      fc.uint8Array({ maxLength: 120 }).map((b) => Buffer.concat([Buffer.from('PROXY '), b])),
      fc.string({ maxLength: 110 }).map((s) => Buffer.from(`PROXY ${s}\r\n`, 'latin1')),
    );
    fc.assert(
      fc.property(prefixed, (bytes) => {
        const r = parseProxyHeader(Buffer.from(bytes));
        if (r.kind === 'header') expect(r.length).to.be.at.most(bytes.length);
      }),
      { numRuns: 3000 },
    );
  });
});

// ---- the gateway, in front of a real uWS app ----

interface Reply {
  status: number;
  body: string;
}

/** Writes `chunks` (one write each, in order) to a new connection and reads answers until `want` responses or close. */
function exchange(port: number, chunks: Buffer[], want = 1): Promise<{ replies: Reply[]; closed: boolean }> {
  return new Promise((resolve) => {
    const s: Socket = connect(port, '127.0.0.1');
    let raw = '';
    const replies: Reply[] = [];
    const finish = (closed: boolean) => {
      s.destroy();
      resolve({ replies, closed });
    };
    s.on('data', (d) => {
      raw += d;
      for (;;) {
        const end = raw.indexOf('\r\n\r\n');
        if (end < 0) break;
        const head = raw.slice(0, end);
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (raw.length < end + 4 + length) break;
        replies.push({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1]), body: raw.slice(end + 4, end + 4 + length) });
        raw = raw.slice(end + 4 + length);
      }
      if (replies.length >= want) finish(false);
    });
    s.on('error', () => {});
    s.on('close', () => finish(true));
    void (async () => {
      for (const c of chunks) {
        await new Promise<void>((r) => s.write(c, () => r()));
        await new Promise((r) => setImmediate(r));
      }
    })();
  });
}

for (const thread of [true, false])
  describe(`deploy: PROXY protocol gateway in front of uWS (listenWithProxyProtocol, ${thread ? 'on its own thread' : 'in the calling thread'})`, () => {
    let app: TemplatedApp;
    let pp: ProxyProtocolListen;
    const refused: string[] = [];

    before(async () => {
      const uws = loadUws();
      app = uws.App().any('/*', (res, req) => {
        const url = req.getUrl();
        if (req.getMethod() === 'post') {
          let n = 0;
          res.onAborted(() => {});
          res.onData((chunk, last) => {
            n += chunk.byteLength;
            if (last) res.cork(() => res.end(`${peerAddressOf(res)} ${n}`));
          });
          return;
        }
        res.end(`${peerAddressOf(res)} ${url}`);
      });
      pp = await listenWithProxyProtocol(app, '127.0.0.1', 0, {
        thread,
        headerTimeoutMs: 300,
        onRefused: (_peer, why) => refused.push(why),
      });
    });

    after(() => pp?.destroy());

    const req = (path: string) => Buffer.from(`GET ${path} HTTP/1.1\r\nHost: a\r\n\r\n`);
    const src = (address: string, port = 40000) => ({ address, port });
    const dst = { address: '127.0.0.1', port: 80 };

    it('v2 and v1 headers name the client the app sees; IPv6 canonical', async () => {
      const cases: [Buffer, string][] = [
        [encodeV2(src('203.0.113.7'), dst), '203.0.113.7'],
        [encodeV1(src('198.51.100.9'), dst), '198.51.100.9'],
        [encodeV2(src('2001:db8::42'), { address: '2001:db8::1', port: 80 }), '2001:db8::42'],
        [encodeV1(src('2001:db8:0:0:1::9'), { address: '::1', port: 80 }), '2001:db8::1:0:0:9'],
        [encodeV2(src('::ffff:192.0.2.5'), dst), '192.0.2.5'],
      ];
      for (const [h, expected] of cases) {
        const { replies } = await exchange(pp.port, [Buffer.concat([h, req('/x')])]);
        expect(replies, expected).to.deep.equal([{ status: 200, body: `${expected} /x` }]);
      }
    });

    it('LOCAL and UNKNOWN headers (health checks) get the real peer address', async () => {
      for (const h of [encodeV2Local(), encodeV1()]) {
        const { replies } = await exchange(pp.port, [Buffer.concat([h, req('/hc')])]);
        expect(replies).to.deep.equal([{ status: 200, body: '127.0.0.1 /hc' }]);
      }
    });

    it('a header arriving byte by byte, then keep-alive requests, all answered with one address', async () => {
      const h = encodeV1(src('192.0.2.77'), dst);
      const bytes = [...h].map((b) => Buffer.from([b]));
      const { replies } = await exchange(pp.port, [...bytes, Buffer.concat([req('/a'), req('/b')]), req('/c')], 3);
      expect(replies.map((r) => r.body)).to.deep.equal(['192.0.2.77 /a', '192.0.2.77 /b', '192.0.2.77 /c']);
    });

    it('a 4 MiB upload passes through the relay with its backpressure', async () => {
      const body = Buffer.alloc(4 * 1024 * 1024, 1);
      const head = Buffer.from(`POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: ${body.length}\r\n\r\n`);
      const { replies } = await exchange(pp.port, [encodeV2(src('192.0.2.8'), dst), head, body]);
      expect(replies).to.deep.equal([{ status: 200, body: `192.0.2.8 ${body.length}` }]);
    });

    it('refuses connections with no header, a malformed one, or one not finished in time', async () => {
      const before = (await pp.stats()).stats;
      const refusedBefore = refused.length;
      const noHeader = await exchange(pp.port, [req('/')]);
      const malformed = await exchange(pp.port, [Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n'), req('/')]);
      const late = await exchange(pp.port, [Buffer.from('PROXY TCP4 1.2.3')]);
      for (const r of [noHeader, malformed, late]) expect(r).to.deep.equal({ replies: [], closed: true });
      expect((await pp.stats()).stats.refused - before.refused).to.equal(3);
      await pollUntil('three refusals reported', () => refused.length - refusedBefore === 3);
      expect(refused.slice(-3)).to.deep.equal([
        'not a PROXY protocol header',
        'v1: ports must be decimal 0..65535 without leading zeros',
        'no complete PROXY header within 300 ms',
      ]);
    });

    it('close() stops accepting; a relayed connection already open is still answered', async () => {
      const uws = loadUws();
      const second = await listenWithProxyProtocol(
        uws.App().any('/*', (res) => void res.end(peerAddressOf(res))),
        '127.0.0.1',
        0,
        { thread },
      );
      const s = connect(second.port, '127.0.0.1');
      let got = '';
      s.on('data', (d) => (got += d));
      s.write(Buffer.concat([encodeV2(src('192.0.2.30'), dst), req('/1')]));
      await pollUntil('the first answer', () => got.includes('192.0.2.30'));
      second.close();
      expect(
        await new Promise((r) =>
          connect(second.port, '127.0.0.1')
            .on('error', (e: NodeJS.ErrnoException) => r(e.code))
            .on('connect', () => r('connected')),
        ),
      ).to.equal('ECONNREFUSED');
      got = '';
      s.write(req('/2'));
      await pollUntil('the answer on the open connection', () => got.endsWith('192.0.2.30'));
      s.destroy();
      // The port is free the moment close() returns: a reload can bind it again at once.
      const again = await listenWithProxyProtocol(
        uws.App().any('/*', (res) => void res.end('again')),
        '127.0.0.1',
        second.port,
        { thread },
      );
      expect(again.port).to.equal(second.port);
      again.destroy();
    });

    it('destroy() cuts connections still open', async () => {
      const uws = loadUws();
      const third = await listenWithProxyProtocol(
        uws.App().any('/*', (res) => void res.end(peerAddressOf(res))),
        '127.0.0.1',
        0,
        { thread },
      );
      const s = connect(third.port, '127.0.0.1');
      let got = '';
      s.on('data', (d) => (got += d));
      const closed = new Promise((r) => s.on('close', r));
      s.write(Buffer.concat([encodeV2(src('192.0.2.31'), dst), req('/1')]));
      await pollUntil('the answer', () => got.includes('192.0.2.31'));
      expect((await third.stats()).connections).to.equal(1);
      third.destroy();
      await closed;
    });
  });
