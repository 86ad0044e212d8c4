// Signal handlers installed first thing, before anything slow loads or listens. Node kills the
// process on SIGHUP, SIGTERM and SIGINT until a listener exists, and opens an inspector port on
// SIGUSR1; hostd's own handlers used to be installed only after listen(), so a `systemctl
// reload` or logrotate in the first few hundred milliseconds killed it (exit 129, nothing
// logged). holdSignals() runs at the top of the process entry (boot.ts) and queues these signals
// until the command that runs decides what they mean: onSignals() takes them (serving process,
// supervisor) and releaseSignals() gives them back to Node's defaults (`check`, `--help`), re-
// raising one that arrived meanwhile so that it still ends the process.

export type HostSignal = 'SIGTERM' | 'SIGINT' | 'SIGHUP' | 'SIGUSR1';
export const HOST_SIGNALS: readonly HostSignal[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGUSR1'];

const listeners = new Map<HostSignal, () => void>();
let handler: ((signal: HostSignal) => void) | null = null;
let pending: HostSignal[] = [];

/** Installs the queueing listeners (idempotent). */
export function holdSignals(): void {
  if (listeners.size > 0) return;
  for (const signal of HOST_SIGNALS) {
    const listener = () => {
      if (handler) handler(signal);
      else if (!pending.includes(signal)) pending.push(signal);
    };
    process.on(signal, listener);
    listeners.set(signal, listener);
  }
}

/** From now on `fn` gets every signal; those that arrived earlier are handed over first, in order. */
export function onSignals(fn: (signal: HostSignal) => void): void {
  holdSignals();
  handler = fn;
  const queued = pending;
  pending = [];
  for (const signal of queued) fn(signal);
}

/** Removes the listeners; a terminating signal that was queued is raised again, now fatal. */
export function releaseSignals(): void {
  for (const [signal, listener] of listeners) process.off(signal, listener);
  listeners.clear();
  handler = null;
  const fatal = pending.find((s) => s !== 'SIGUSR1');
  pending = [];
  if (fatal) process.kill(process.pid, fatal);
}
