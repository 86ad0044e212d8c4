// CPU time a server spends, read from /proc: the sum of user+system time over every process of
// its process group (nginx's master and worker; hostd's threads are inside its one process).
// Per request, this is the figure a busy shared box disturbs least: throughput depends on who
// else wants the cores, CPU per request much less so.

import { readdirSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const CLK_TCK = (() => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(r.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

/** CPU seconds used so far by the processes in process group `pgid`, or undefined off Linux. */
export function groupCpuSeconds(pgid: number): number | undefined {
  let dirs: string[];
  try {
    dirs = readdirSync('/proc');
  } catch {
    return undefined;
  }
  let ticks = 0;
  for (const d of dirs) {
    if (!/^\d+$/.test(d)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${d}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // "pid (comm) state ppid pgrp ..."; comm may hold spaces and parentheses: split after the last ')'
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(f[2]) !== pgid) continue;
    ticks += Number(f[11]) + Number(f[12]); // utime, stime (fields 14 and 15 of the full line)
  }
  return ticks / CLK_TCK;
}
