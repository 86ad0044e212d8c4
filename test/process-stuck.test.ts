// A worker thread stuck in native code (issue 20): Worker.terminate() cannot stop a synchronous
// native call (here execSync('sleep 300')). In a process pool, after requestTimeout's 504 the
// daemon process reports the thread as stuck and hostd replaces the whole process: its other
// threads drain (their requests complete), fresh threads start in a new process, and the old one
// is killed with its process group (the `sleep` the stuck thread waits on included). A thread
// pool cannot do that (the thread is hostd's): what it does instead is pinned down at the end.
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { request } from 'undici';
import { processTree } from '../bench/memory.js';
import { type LoadRun, quietLog, startHost, startLoad, type TestHost, waitFor } from './helpers/index.js';

const PROBE = resolve('test/fixtures/apps/process-probe.mjs');

/** Whether `pid` still runs (a zombie left for an init that does not reap counts as gone). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return false;
  }
}

/** The `sleep` processes below `pid` (what /native-block runs). */
function sleepsUnder(pid: number): number[] {
  return processTree(pid)
    .slice(1)
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').startsWith('sleep\0');
      } catch {
        return false; // gone meanwhile
      }
    });
}

function killAll(pids: number[]): void {
  for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
}

async function pidOf(h: TestHost): Promise<number> {
  const res = await request(h.url('/s/who'));
  expect(res.statusCode).to.equal(200);
  return ((await res.body.json()) as { pid: number }).pid;
}

describe('a process-pool thread stuck in native code', function () {
  this.timeout(90_000);
  const log = quietLog();
  let h: TestHost;
  let dir: string;
  /** The stuck thread's `sleep` (a child of the old daemon process): killed here whatever happens. */
  let sleeps: number[] = [];
  let load: LoadRun | undefined;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hostd-stuck-'));
    // requestTimeout: the held request below starts once the stuck thread was terminated and must
    // outlive the process's THREAD_STOP_GRACE_MS (5 s) and the successors' start within its own
    // timeout, with room to spare on a slow machine.
    h = await startHost(
      [{ serverName: ['*'], apps: [{ url: '/s', module: PROBE, pool: { isolation: 'process', threads: 2, requestTimeout: '15s' } }] }],
      { errorLog: log },
    );
  });

  after(async () => {
    await load?.stop();
    await h?.close();
    killAll(sleeps);
    rmSync(dir, { recursive: true, force: true });
  });

  it('504, then its process is replaced: requests on its other threads complete, a new process serves, no child is left', async () => {
    const old = await pidOf(h);
    const stuck = await request(h.url('/s/native-block?s=300'));
    await stuck.body.dump();
    expect(stuck.statusCode).to.equal(504);
    sleeps = sleepsUnder(old);
    expect(sleeps, "the stuck thread's sleep").to.have.length(1);

    // The front found the thread unresponsive and had it terminated: the other thread (and the
    // replacement, started in the same process for now) takes a request that stays in flight
    // until the test creates its file.
    await waitFor(async () => (await h.pool('/s')).restarts.timeout >= 1, { what: 'the stuck thread terminated' });
    const flag = join(dir, 'release');
    const held = request(h.url(`/s/until?file=${encodeURIComponent(flag)}`)).then(async (r) => [r.statusCode, await r.body.text()]);
    await waitFor(async () => (await h.pool('/s')).inFlight >= 1, { what: 'the held request in flight' });
    // And requests all along, in flight on the old process until it stops taking them.
    load = startLoad(h.url('').replace(/\/$/, ''), ['/s/slow?ms=50'], { concurrency: 2 });

    const line = await waitFor(() => log.lines.find((l) => l.startsWith('error') && l.includes('could not be stopped')), {
      what: 'the error-log line about the stuck thread',
      timeout: 20_000,
    });
    // It names the worker the front found unresponsive, the pool's site and mount, and the process.
    const unresponsive = log.lines.find((l) => l.includes('unresponsive after a request timeout'));
    const worker = /"worker":(\d+)/.exec(unresponsive ?? '')?.[1];
    expect(worker, 'the front named the unresponsive worker').to.be.a('string');
    expect(line)
      .to.include('"site":"site-1"')
      .and.include('"mount":"/s"')
      .and.include(`"worker":${worker},"thread":`)
      .and.include(`"pid":${old}`);

    // Successors start in a new process, then the old threads retire: the idle one drains and goes
    // (4 workers, then 3), the one holding the request waits for it.
    await waitFor(async () => (await h.pool('/s')).threads === 3, { what: 'the idle old thread retired and gone', timeout: 20_000 });
    writeFileSync(flag, '');
    expect(await held).to.deep.equal([200, 'released']);

    const fresh = await waitFor(
      async () => {
        const pid = await pidOf(h);
        return pid !== old && pid;
      },
      { what: 'a new daemon process', timeout: 20_000 },
    );
    expect(fresh).to.be.a('number');
    await waitFor(() => !alive(old), { what: 'the old daemon process gone', timeout: 20_000 });
    await waitFor(() => sleeps.every((pid) => !alive(pid)), { what: "the stuck thread's sleep gone with its process group" });

    const r = await load.stop();
    load = undefined; // (stopped: nothing left for after())
    expect(r.errors, r.errors.slice(0, 3).join('\n')).to.deep.equal([]);
    expect(Object.keys(r.byStatus), 'no 502 for requests on the replaced process').to.deep.equal(['200']);
    expect(r.total).to.be.greaterThan(0);

    // The pool serves on, from the new process only.
    const answers = await Promise.all(Array.from({ length: 6 }, () => pidOf(h)));
    expect(answers.every((pid) => pid !== old)).to.equal(true);
  });
});

describe('a thread-pool thread stuck in native code', function () {
  this.timeout(60_000);

  it('504 and a fresh thread serves, but the stuck thread runs on in hostd until its call returns: the error log says so', async () => {
    const log = quietLog();
    const h = await startHost([{ serverName: ['*'], apps: [{ url: '/s', module: PROBE, pool: { threads: 1, requestTimeout: '1s' } }] }], {
      errorLog: log,
    });
    try {
      const stuck = await request(h.url('/s/native-block?s=300'));
      await stuck.body.dump();
      expect(stuck.statusCode).to.equal(504);
      await waitFor(async () => (await h.pool('/s')).restarts.timeout >= 1, { what: 'the stuck thread terminated' });
      expect(await pidOf(h), 'a fresh thread of hostd').to.equal(process.pid);
      // Terminated and replaced, yet still blocked in execSync: its sleep runs on under hostd.
      expect(sleepsUnder(process.pid)).to.have.length(1);
      const line = await waitFor(() => log.lines.find((l) => l.startsWith('error') && l.includes('could not be stopped')), {
        what: 'the error-log line about the stuck thread',
        timeout: 20_000,
      });
      expect(line).to.include('runs on inside hostd').and.include('"site":"site-1"').and.include('"mount":"/s"').and.include('"worker":1');
      expect(sleepsUnder(process.pid), 'still blocked after the grace period').to.have.length(1);
    } finally {
      // Ends the native call: the thread exits (mocha's exit would otherwise wait for it).
      killAll(sleepsUnder(process.pid));
      await h.close();
    }
  });
});
