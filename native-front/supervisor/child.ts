// The serving process's side of the supervisor channel: fd 3, a pipe to the supervisor, named by
// HOSTD_SUPERVISOR_FD. The child writes one word per line:
//   armed    its signal handlers are installed: signals can be forwarded without killing it;
//   serving  every listener is bound: the start succeeded (a later death is a crash to restart,
//            an exit before it at first start is a configuration error to report).
// A plain pipe rather than Node's IPC channel: nothing to parse, nothing that keeps the child's
// event loop alive, nothing the supervisor has to read back. An app could write to fd 3 too; the
// worst it can do is claim "serving" early, which changes only how a later death is counted.
import { writeSync } from 'node:fs';

const fd = Number(process.env.HOSTD_SUPERVISOR_FD);
const supervised = Number.isInteger(fd) && fd > 2;
// Not for the workers' or the apps' eyes (workers get a minimal environment anyway).
delete process.env.HOSTD_SUPERVISOR_FD;

const told = new Set<string>();

/** Whether this process was started by hostd's supervisor. */
export function isSupervisedChild(): boolean {
  return supervised;
}

/** Tells the supervisor this process reached `state` (once per state; a no-op when unsupervised). */
export function tellSupervisor(state: 'armed' | 'serving'): void {
  if (!supervised || told.has(state)) return;
  told.add(state);
  try {
    writeSync(fd, state + '\n');
  } catch {
    // The supervisor is gone (EPIPE): keep serving; under systemd the unit restarts both.
  }
}

/**
 * Calls `onGone` once if the supervisor dies (this process is re-parented). The serving process
 * then keeps serving, unsupervised: an app that got `kill -9 $PPID` through child_process must not
 * take the host down that way either. Checked every second, off the event loop's keep-alive.
 */
export function watchSupervisor(onGone: (pid: number) => void): void {
  if (!supervised) return;
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    onGone(parent);
  }, 1000);
  timer.unref();
}
