// --trust-proxy on its own: which peers are believed, and which client address is taken from
// X-Forwarded-For (the rightmost hop that is not itself a trusted proxy). ops-logs.test.ts checks
// the same through a host, over a socket.
import { expect } from 'chai';
import { HostdError } from '../shared/errors.js';
import { unmap } from '../native-front/proxy-protocol/address.js';
import { TrustProxy } from '../native-front/http/trust-proxy.js';

describe('trust proxy', () => {
  it('trusts addresses and CIDRs, IPv4 and IPv6, including IPv4-mapped peers', () => {
    const t = new TrustProxy(['10.0.0.0/8', ' 192.0.2.7 ', '', '2001:db8::/32', '::1']);
    for (const a of ['10.1.2.3', '192.0.2.7', '::ffff:10.9.9.9', '2001:db8::42', '::1']) expect(t.trusts(a), a).to.equal(true);
    for (const a of ['11.0.0.1', '192.0.2.8', '::ffff:11.0.0.1', '2001:db9::1', '::2', 'not-an-ip', ''])
      expect(t.trusts(a), a).to.equal(false);
  });

  it('refuses what is not an address or a CIDR, with a usage error', () => {
    // "10.0.0.0/" once read as /0 (every address trusted) and "10.0.0.1/8/9" as /8.
    for (const bad of [
      '10.0.0.300/8',
      'example.com',
      '10.0.0.0/33',
      '::/129',
      '10.0.0.0/x',
      '10.0.0.0/-1',
      '10.0.0.0/',
      '10.0.0.1/8/9',
      '10.0.0.0/ 8',
    ]) {
      expect(() => new TrustProxy([bad]), bad)
        .to.throw(HostdError)
        .with.property('code', 'HOSTD_USAGE');
    }
  });

  it('believes X-Forwarded-For only from a trusted peer', () => {
    const t = new TrustProxy(['127.0.0.1']);
    expect(t.client('203.0.113.9', '198.51.100.1')).to.equal('203.0.113.9');
    expect(t.client('127.0.0.1', '198.51.100.1')).to.equal('198.51.100.1');
    expect(t.client('127.0.0.1', '')).to.equal('127.0.0.1');
  });

  it('takes the rightmost hop that is not a trusted proxy, so a client cannot forge the chain', () => {
    const t = new TrustProxy(['127.0.0.1', '10.0.0.0/8']);
    // The client sent "X-Forwarded-For: 1.1.1.1" itself; the proxy appended the real address.
    expect(t.client('127.0.0.1', '1.1.1.1, 203.0.113.7')).to.equal('203.0.113.7');
    // Two proxies of ours in the chain are skipped.
    expect(t.client('127.0.0.1', '203.0.113.7, 10.0.0.2, 10.0.0.3')).to.equal('203.0.113.7');
    // Every hop is ours: the leftmost is the client.
    expect(t.client('127.0.0.1', '10.0.0.5, 10.0.0.6')).to.equal('10.0.0.5');
    // IPv4-mapped hops come back unmapped.
    expect(t.client('::ffff:127.0.0.1', '::ffff:203.0.113.7')).to.equal('203.0.113.7');
  });

  it('believes only the peer when the chain holds something that is not an address', () => {
    const t = new TrustProxy(['127.0.0.1']);
    expect(t.client('127.0.0.1', '203.0.113.7, unknown')).to.equal('127.0.0.1');
    expect(t.client('127.0.0.1', '203.0.113.7,, 198.51.100.1')).to.equal('198.51.100.1');
    expect(t.client('127.0.0.1', 'x, 198.51.100.1')).to.equal('198.51.100.1');
  });

  it('unmap turns ::ffff:a.b.c.d into a.b.c.d and leaves the rest', () => {
    expect(unmap('::ffff:127.0.0.1')).to.equal('127.0.0.1');
    expect(unmap('::ffff:7f00:1')).to.equal('::ffff:7f00:1');
    expect(unmap('::1')).to.equal('::1');
    expect(unmap('10.0.0.1')).to.equal('10.0.0.1');
  });
});
