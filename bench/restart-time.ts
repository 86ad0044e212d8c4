// How long a supervised hostd is down after its serving process is killed: SIGKILL of the child
// to the first 200 from an app mount (the pool has loaded the app again). Each run starts a fresh
// hostd, so that every kill is a first death (the supervisor's backoff doubles the wait for deaths
// in a row: 100 ms, 200 ms, ... 10 s; see native-front/supervisor/backoff.ts).
//
//   npm run build && node --import tsx bench/restart-time.ts [--runs 10] [--threads 2]
//
// Uses the containment tests' site (test/fixtures/contain): one vhost, the attack app at /app.
import { rm } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { attackSite, freePort, getJson, startCli, until200 } from '../test/fixtures/contain/proc.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '10' }, threads: { type: 'string', default: '2' } } });
const runs = Number(values.runs);
const times: number[] = [];
for (let i = 0; i < runs; i++) {
  const port = await freePort();
  const site = await attackSite(port, `threads: ${Number(values.threads)}`);
  const hostd = startCli(['--sites', site.sites, '--access-log', 'off', '--error-log', `${site.root}/error.log`]);
  const base = `http://127.0.0.1:${port}/app`;
  try {
    await until200(`${base}/ok`);
    const { pid } = await getJson<{ pid: number }>(`${base}/pid`);
    const t0 = performance.now();
    process.kill(pid, 'SIGKILL');
    times.push((await until200(`${base}/ok`, 60_000)) - t0);
  } finally {
    await hostd.stop();
    await rm(site.root, { recursive: true, force: true });
  }
}
times.sort((a, b) => a - b);
const ms = (x: number) => `${Math.round(x)} ms`;
console.log(`restart after SIGKILL of the serving process, ${runs} runs, app pool threads ${values.threads}:`);
console.log(`  min ${ms(times[0])}, median ${ms(times[Math.floor(times.length / 2)])}, max ${ms(times[times.length - 1])}`);
