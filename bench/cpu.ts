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

function statTicks(stat: string): { pgrp: number; ticks: number } {
  // "pid (comm) state ppid pgrp ..."; comm may hold spaces and parentheses: split after the last ')'
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { pgrp: Number(f[2]), ticks: Number(f[11]) + Number(f[12]) }; // utime, stime (fields 14, 15)
}

export interface CpuSample {
  /** CPU seconds of every process in the group (all their threads) */
  total: number;
  /** CPU seconds of the group leader's main thread alone (hostd: the front thread) */
  main: number;
}

/** CPU seconds used so far by one process (all its threads), or undefined (gone, or not Linux). */
export function processCpuSeconds(pid: number): number | undefined {
  try {
    return statTicks(readFileSync(`/proc/${pid}/stat`, 'utf8')).ticks / CLK_TCK;
  } catch {
    return undefined;
  }
}

/** CPU seconds used so far by the processes in process group `pgid`, or undefined off Linux. */
export function groupCpu(pgid: number): CpuSample | undefined {
  const total = groupCpuSeconds(pgid);
  if (total === undefined) return undefined;
  let main = 0;
  try {
    main = statTicks(readFileSync(`/proc/${pgid}/task/${pgid}/stat`, 'utf8')).ticks / CLK_TCK;
  } catch {
    /* leader gone */
  }
  return { total, main };
}

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
    const t = statTicks(stat);
    if (t.pgrp === pgid) ticks += t.ticks;
  }
  return ticks / CLK_TCK;
}
