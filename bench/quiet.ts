// On a shared box other work skews every figure. Before each round, wait (a bounded time) until
// the CPUs are nearly idle: our own servers are idle between rounds, so what is busy is not us.

import { readFileSync } from 'node:fs';

function cpuTimes(): { busy: number; total: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]; // "cpu  user nice system idle iowait irq softirq steal ..."
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = f[3] + (f[4] ?? 0);
    const total = f.reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return undefined; // not Linux: no gate
  }
}

/** Fraction (0..1) of all CPUs busy over `ms`, or undefined when it cannot be measured. */
export async function busyFraction(ms = 500): Promise<number | undefined> {
  const a = cpuTimes();
  await new Promise((r) => setTimeout(r, ms));
  const b = cpuTimes();
  if (!a || !b || b.total === a.total) return undefined;
  return (b.busy - a.busy) / (b.total - a.total);
}

/**
 * Waits until less than `maxBusy` of the CPUs is busy, for at most `maxWaitMs`.
 * Returns the last busy fraction seen (undefined off Linux).
 */
export async function waitForQuiet(maxBusy: number, maxWaitMs: number): Promise<number | undefined> {
  const deadline = Date.now() + maxWaitMs;
  for (;;) {
    const busy = await busyFraction();
    if (busy === undefined || busy <= maxBusy || Date.now() >= deadline) return busy;
  }
}
