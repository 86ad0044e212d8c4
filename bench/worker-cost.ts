// What loading one module costs a worker thread, as PSS (issue 19's memory profiling): a process
// with N workers that each run CODE, against N bare workers. Used for docs/performance.md
// ("Memory"): undici (`globalThis.Headers`), node:http, esbuild, hostd's worker bundle.
//
//   node --import tsx bench/worker-cost.ts 'globalThis.Headers' "require('node:http')"
//
// Each case runs in a process of its own (memory a finished case's threads leave in malloc's
// arenas would otherwise lower the next one), with MALLOC_MMAP_THRESHOLD_=131072 as the
// supervisor starts the serving process (native-front/supervisor/malloc-env.ts). Its figure is the
// lowest of three samples a second apart, five seconds after the workers are up.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { setTimeout as sleep } from 'node:timers/promises';

const WORKERS = 4;
const pss = () => Number(/^Pss:\s+(\d+)/m.exec(readFileSync('/proc/self/smaps_rollup', 'utf8'))![1]) / 1024;

/** PSS (MB) of this process once WORKERS workers that ran `code` are idle. */
async function withWorkers(code: string): Promise<number> {
  const workers: Worker[] = [];
  for (let i = 0; i < WORKERS; i++) {
    const w = new Worker(`${code};\nrequire('node:worker_threads').parentPort.postMessage('up'); setInterval(() => {}, 1 << 30);`, {
      eval: true,
    });
    await new Promise((resolve, reject) => w.once('message', resolve).once('error', reject));
    workers.push(w);
  }
  await sleep(5000);
  const samples: number[] = [];
  for (let i = 0; i < 3; i++, await sleep(1000)) samples.push(pss());
  return Math.min(...samples);
}

/** One case in a fresh process: its PSS in MB. */
function measure(code: string): number {
  const out = execFileSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--one', code], {
    env: { ...process.env, MALLOC_MMAP_THRESHOLD_: '131072' },
    encoding: 'utf8',
  });
  return Number(out.trim());
}

if (process.argv[2] === '--one') {
  console.log(await withWorkers(process.argv[3]));
  process.exit(0);
}
const bare = measure('');
console.log(`${WORKERS} bare workers: ${bare.toFixed(1)} MB PSS`);
for (const code of process.argv.slice(2)) {
  console.log(`${code}: +${((measure(code) - bare) / WORKERS).toFixed(2)} MB per worker`);
}
