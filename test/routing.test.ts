// The routing tables on their own: which vhost a Host header picks (exact, longest "*.suffix"
// wildcard, catch-all, as nginx's server_name) and which mount a path picks (longest prefix on
// a segment boundary). The socket-level tests in front.test.ts run the same rules end to end.
import { expect } from 'chai';
import fc from 'fast-check';
import { hostnameOf, VhostTable } from '../native-front/routing/host-match.js';
import { MountTable } from '../native-front/routing/mount-match.js';

describe('routing: hostnameOf', () => {
  it('lowercases, drops the port and a trailing dot, keeps IPv6 literals whole', () => {
    const table: [string, string][] = [
      ['Example.COM', 'example.com'],
      ['example.com:8080', 'example.com'],
      ['example.com.', 'example.com'],
      ['Example.com.:443', 'example.com'],
      ['[::1]:8080', '[::1]'],
      ['[2001:DB8::1]', '[2001:db8::1]'],
      ['127.0.0.1:80', '127.0.0.1'],
      ['[::1', '[::1'], // unterminated: left as it is, and matches no name
      ['', ''],
    ];
    for (const [header, name] of table) expect(hostnameOf(header), header).to.equal(name);
  });
});

describe('routing: VhostTable', () => {
  function table(): VhostTable<string> {
    const t = new VhostTable<string>();
    t.add(['a.example', 'www.a.example'], false, 'A');
    t.add(['*.example'], false, 'wild');
    t.add(['*.deep.example'], false, 'deep-wild'); // longer suffix, added later: still wins
    t.add(['deep.example'], false, 'deep-exact');
    return t;
  }

  it('takes an exact name before any wildcard, case- and port-insensitively', () => {
    const t = table();
    expect(t.match('a.example')).to.equal('A');
    expect(t.match('WWW.A.EXAMPLE:8080')).to.equal('A');
    expect(t.match('deep.example')).to.equal('deep-exact');
  });

  it('takes the longest matching *.suffix, at any depth, never the bare suffix', () => {
    const t = table();
    expect(t.match('x.example')).to.equal('wild');
    expect(t.match('x.y.example')).to.equal('wild');
    expect(t.match('x.deep.example')).to.equal('deep-wild');
    expect(t.match('a.b.deep.example')).to.equal('deep-wild');
    expect(t.match('example')).to.equal(undefined);
    expect(t.match('notexample')).to.equal(undefined); // a suffix match must start at a dot
  });

  it('falls back to the catch-all ("*" or isDefault), else to nothing', () => {
    const t = table();
    expect(t.match('other.test')).to.equal(undefined);
    t.add(['*'], false, 'star');
    expect(t.match('other.test')).to.equal('star');
    const d = new VhostTable<string>();
    d.add(['only.test'], true, 'default');
    expect(d.match('only.test')).to.equal('default');
    expect(d.match('anything.else')).to.equal('default');
  });

  it('forgets remembered answers when a vhost is added', () => {
    const t = table();
    expect(t.match('new.test')).to.equal(undefined);
    t.add(['new.test'], false, 'new');
    expect(t.match('new.test')).to.equal('new');
  });

  it('counts names, wildcards and the catch-all in size', () => {
    const t = table();
    expect(t.size).to.equal(5);
    t.add(['*'], false, 'star');
    expect(t.size).to.equal(6);
  });

  it('property: the remembered answer is always the one a fresh table gives, for any Host headers', () => {
    const label = fc.constantFrom('a', 'b', 'www', 'deep', 'example', 'EXAMPLE', 'x-y');
    const name = fc.array(label, { minLength: 1, maxLength: 4 }).map((l) => l.join('.'));
    const header = fc.tuple(name, fc.constantFrom('', ':80', ':8080', '.')).map(([n, s]) => n + s);
    fc.assert(
      fc.property(fc.array(header, { minLength: 1, maxLength: 400 }), (headers) => {
        const used = table();
        for (const h of headers) expect(used.match(h), h).to.equal(table().match(h));
      }),
      { numRuns: 50 },
    );
  });
});

describe('routing: MountTable', () => {
  it('takes the longest prefix on a segment boundary', () => {
    const t = new MountTable<string>();
    t.add('', 'root');
    t.add('/assets/deep', 'deep');
    t.add('/assets', 'assets');
    const table: [string, string][] = [
      ['/', 'root'],
      ['/x', 'root'],
      ['/assets', 'assets'],
      ['/assets/', 'assets'],
      ['/assets/f.txt', 'assets'],
      ['/assetsx/f.txt', 'root'],
      ['/assets/deep', 'deep'],
      ['/assets/deep/f', 'deep'],
      ['/assets/deeper', 'assets'],
    ];
    for (const [path, value] of table) expect(t.match(path), path).to.equal(value);
    expect(t.values()).to.deep.equal(['deep', 'assets', 'root']);
  });

  it('answers nothing outside every mount when there is no root mount', () => {
    const t = new MountTable<string>();
    t.add('/api', 'api');
    expect(t.match('/')).to.equal(undefined);
    expect(t.match('/ap')).to.equal(undefined);
    expect(t.match('/api/v1')).to.equal('api');
  });

  it('property: the answer is the longest mount that is the path or a parent of it, whatever the order of add()', () => {
    const seg = fc.constantFrom('a', 'b', 'ab', 'c');
    const prefix = fc.array(seg, { maxLength: 3 }).map((s) => (s.length ? `/${s.join('/')}` : ''));
    const path = fc
      .tuple(fc.array(seg, { maxLength: 4 }), fc.boolean())
      .map(([s, slash]) => `/${s.join('/')}${slash && s.length ? '/' : ''}`);
    fc.assert(
      fc.property(fc.uniqueArray(prefix, { minLength: 1, maxLength: 6 }), fc.array(path, { maxLength: 20 }), (prefixes, paths) => {
        const t = new MountTable<string>();
        for (const p of prefixes) t.add(p, p);
        for (const p of paths) {
          const covers = prefixes.filter((m) => m === '' || p === m || p.startsWith(`${m}/`));
          const longest = covers.sort((x, y) => y.length - x.length)[0];
          expect(t.match(p), p).to.equal(longest);
        }
      }),
      { numRuns: 300 },
    );
  });
});
