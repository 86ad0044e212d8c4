// The --max-memory ceiling's decisions (native-front/control/memory-ceiling.ts), driven sample by
// sample with pools whose workers report chosen sizes and an RSS the test sets. What the ceiling
// does to a real process is contain-memory.test.ts; this pins the judgement that a slow machine
// makes hard to reach there: a replacement is judged only once its thread has ended, and by the
// memory outside the workers, so workers that keep leaking meanwhile do not make it give up.
import { expect } from 'chai';
import type { DaemonPool } from '../daemon/pool/pool.js';
import { MemoryCeiling } from '../native-front/control/memory-ceiling.js';

const MB = 1024 * 1024;

interface FakeWorker {
  threadId: number;
  state: 'ready' | 'dead';
  board: { memory: number };
}

/** A pool as the ceiling sees it; kill() resolves when the test ends that thread. */
function fakePool(url: string, sizesMb: number[]) {
  let nextThread = 1;
  const ends = new Map<number, () => void>();
  const pool = {
    cfg: { url },
    restarts: { memory: 0 },
    workers: sizesMb.map((mb): FakeWorker => ({ threadId: nextThread++, state: 'ready', board: { memory: mb * MB } })),
    kill(w: FakeWorker): Promise<void> {
      w.state = 'dead';
      pool.workers = pool.workers.filter((x) => x !== w);
      // The pool starts a fresh worker at once, as WorkerSet does.
      pool.workers.push({ threadId: nextThread++, state: 'ready', board: { memory: 10 * MB } });
      return new Promise((resolve) => ends.set(w.threadId, resolve));
    },
    /** The thread `id` has ended. */
    end(id: number): Promise<void> {
      ends.get(id)!();
      return new Promise((resolve) => setImmediate(resolve));
    },
  };
  return pool;
}

/** A ceiling of `maxMb` over `pool`, reading the RSS the test sets in `mem.rss`; its log lines kept. */
function ceilingOver(pool: ReturnType<typeof fakePool>, maxMb: number, rssMb: number) {
  const lines: string[] = [];
  const log = (msg: string) => lines.push(msg);
  const mem = { rss: rssMb * MB };
  const ceiling = new MemoryCeiling(
    maxMb * MB,
    () => [pool as unknown as DaemonPool],
    { info: log, warn: log, error: log },
    () => mem.rss,
  );
  return { ceiling, lines, mem };
}

describe('--max-memory ceiling decisions', () => {
  it('waits for the replaced thread to end, then goes on replacing while other workers keep leaking', async () => {
    const pool = fakePool('/leaky', [300, 300]);
    const { ceiling, lines, mem } = ceilingOver(pool, 400, 700); // 100 MB outside the workers
    const t0 = performance.now();

    ceiling.sample(t0);
    expect(pool.restarts.memory).to.equal(1);
    const first = 1;
    // The thread has not ended: however long that takes, no judgement and no second replacement.
    ceiling.sample(t0 + 5_000);
    expect(pool.restarts.memory).to.equal(1);

    // It ends; meanwhile the other worker leaked 250 MB more, so RSS barely fell (700 → 660 MB).
    // Judged by RSS alone that replacement "did not help"; outside the workers nothing grew.
    pool.workers[0].board.memory = 550 * MB;
    mem.rss = 100 * MB + 550 * MB + 10 * MB;
    await pool.end(first);
    ceiling.sample(performance.now() + 1_500);
    expect(pool.restarts.memory).to.equal(2);
    expect(lines.join('\n')).to.not.match(/does not bring memory under/);
    expect(ceiling.report()).to.deep.include({ sheds: 2, gaveUp: 0 });
  });

  it('stops replacing when the memory stays in the process, and starts again once RSS was back under', async () => {
    const pool = fakePool('/app', [300, 200]);
    const { ceiling, lines, mem } = ceilingOver(pool, 400, 700);
    const t0 = performance.now();

    ceiling.sample(t0);
    expect(pool.restarts.memory).to.equal(1);
    // The thread ended but RSS did not move: the 300 MB are now outside the workers.
    await pool.end(1);
    ceiling.sample(performance.now() + 1_500);
    ceiling.sample(performance.now() + 3_000);
    expect(pool.restarts.memory).to.equal(1);
    expect(ceiling.report().gaveUp).to.equal(1);
    expect(lines.filter((l) => /does not bring memory under/.test(l))).to.have.length(1);

    mem.rss = 350 * MB;
    ceiling.sample(performance.now() + 4_000);
    expect(lines.at(-1)).to.match(/back under --max-memory/);
    mem.rss = 700 * MB;
    ceiling.sample(performance.now() + 5_000);
    expect(pool.restarts.memory).to.equal(2);
  });

  it('never replaces a worker under 32 MB, and says so once', () => {
    const pool = fakePool('/small', [20, 20]);
    const { ceiling, lines } = ceilingOver(pool, 100, 500);
    const t0 = performance.now();
    for (let i = 0; i < 5; i++) ceiling.sample(t0 + i * 500);
    expect(pool.restarts.memory).to.equal(0);
    expect(lines.filter((l) => /no worker holds enough memory/.test(l))).to.have.length(1);
  });
});
