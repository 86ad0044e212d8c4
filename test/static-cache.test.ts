// FileCache: byte bound, LRU order, stats, and change detection against real files.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { FileCache, type StaticResource } from '../native-front/static/file-cache.js';
import { type LoadOptions, loadResource } from '../native-front/static/load.js';
import { waitFor } from './helpers/index.js';

describe('static: FileCache', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hostd-cache-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const opts = (): LoadOptions => ({ root: dir, index: 'index.html', precompressed: true, followSymlinks: false, maxFileBytes: 1024 });

  async function load(name: string, content: string | Buffer): Promise<StaticResource> {
    await writeFile(join(dir, name), content);
    const r = await loadResource(`k:${name}`, join(dir, name), false, opts());
    if (r.kind !== 'resource') throw new Error(`load ${name}: ${r.kind}`);
    expect(r.cacheable).to.equal(true);
    return r.resource;
  }

  it('keeps total bytes under maxBytes, evicting the least recently used', async () => {
    const cache = new FileCache({ maxBytes: 2500, maxFileBytes: 1024 });
    const a = await load('a.bin', Buffer.alloc(1000, 1));
    const b = await load('b.bin', Buffer.alloc(1000, 2));
    const c = await load('c.bin', Buffer.alloc(1000, 3));
    expect(cache.insert(a)).to.equal(true);
    expect(cache.insert(b)).to.equal(true);
    expect(cache.lookup('k:a.bin')).to.equal(a); // a is now more recent than b
    expect(cache.insert(c)).to.equal(true); // over 2500: b goes
    expect(cache.lookup('k:b.bin')).to.equal(undefined);
    expect(b.live).to.equal(false);
    expect(b.identity.body!.length).to.equal(0); // a dead entry pins no bytes
    expect(cache.hit(b)).to.equal(false);
    expect(cache.lookup('k:a.bin')).to.equal(a);
    expect(cache.lookup('k:c.bin')).to.equal(c);
    const s = cache.stats();
    expect(s).to.deep.equal({ entries: 2, bytes: 2000, hits: 3, misses: 1 });
  });

  it('refuses entries larger than the cache', async () => {
    const cache = new FileCache({ maxBytes: 500, maxFileBytes: 1024 });
    expect(cache.insert(await load('big.bin', Buffer.alloc(800)))).to.equal(false);
    expect(cache.stats().entries).to.equal(0);
  });

  // A hit starts a revalidation (r.checking turns true at once) only when revalidateMs has passed
  // since the last one; two caches stand for "within" and "past" the window, so no clock decides.
  it('revalidates on a hit at most every revalidateMs and drops changed files', async () => {
    const within = new FileCache({ revalidateMs: 60_000 });
    const r1 = await load('x.txt', 'one');
    within.insert(r1);
    await writeFile(join(dir, 'x.txt'), 'three');
    expect(within.lookup('k:x.txt')).to.equal(r1); // within revalidateMs: no stat, still served
    expect(r1.checking).to.equal(false);

    const past = new FileCache({ revalidateMs: 0 });
    const r2 = await load('x2.txt', 'one');
    past.insert(r2);
    await writeFile(join(dir, 'x2.txt'), 'three');
    expect(past.lookup('k:x2.txt')).to.equal(r2); // served from memory while the stat runs
    expect(r2.checking).to.equal(true);
    await waitFor(() => !r2.checking, { what: 'the revalidation' });
    expect(r2.live).to.equal(false);
    expect(past.lookup('k:x2.txt')).to.equal(undefined);
  });

  it('notices a precompressed sibling appearing', async () => {
    const cache = new FileCache({ revalidateMs: 0 });
    const r = await load('y.js', 'let y = 1;');
    expect(r.vary).to.equal(false);
    cache.insert(r);
    cache.lookup('k:y.js');
    await waitFor(() => !r.checking, { what: 'the first revalidation' });
    expect(r.live).to.equal(true); // unchanged
    await writeFile(join(dir, 'y.js.gz'), 'gz');
    cache.lookup('k:y.js');
    await waitFor(() => !r.checking, { what: 'the second revalidation' });
    expect(r.live).to.equal(false);
  });
});
