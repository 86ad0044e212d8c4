// FileCache: byte bound, LRU order, stats, and change detection against real files.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { FileCache, type StaticResource } from '../native-front/static/file-cache.js';
import { loadResource, type LoadOptions } from '../native-front/static/load.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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

  it('revalidates on a hit at most every revalidateMs and drops changed files', async () => {
    const cache = new FileCache({ revalidateMs: 200 });
    const r = await load('x.txt', 'one');
    cache.insert(r);
    await writeFile(join(dir, 'x.txt'), 'three');
    expect(cache.lookup('k:x.txt')).to.equal(r); // within revalidateMs: no stat, still served
    await sleep(250);
    expect(cache.lookup('k:x.txt')).to.equal(r); // served from memory while the stat runs
    await sleep(50);
    expect(r.live).to.equal(false);
    expect(cache.lookup('k:x.txt')).to.equal(undefined);
  });

  it('notices a precompressed sibling appearing', async () => {
    const cache = new FileCache({ revalidateMs: 0 });
    const r = await load('y.js', 'let y = 1;');
    expect(r.vary).to.equal(false);
    cache.insert(r);
    cache.lookup('k:y.js');
    await sleep(50);
    expect(r.live).to.equal(true); // unchanged
    await writeFile(join(dir, 'y.js.gz'), 'gz');
    cache.lookup('k:y.js');
    await sleep(50);
    expect(r.live).to.equal(false);
  });
});
