// The descriptor limit (RLIMIT_NOFILE). Every connection, static file being sent, log file and
// worker pipe costs hostd one descriptor, and a front that runs out cannot accept.
// Node itself raises the soft limit to the hard limit when it starts (node.cc, PlatformInit:
// "Raise the open file descriptor limit"; `prlimit --nofile=256:512 node` runs with 512), so
// hostd has nothing to raise and no setrlimit to call: it reads the figure Node left and logs it,
// with a warning when the soft limit is still below the hard one (a Node built without that
// step) or low for a server. Raise the hard limit itself with `LimitNOFILE=` (systemd),
// `--ulimit nofile=` (docker) or `ulimit -Hn` in the shell that starts hostd.
import { readFileSync } from 'node:fs';

/** Below this many descriptors a busy host runs out: warn. */
export const LOW_NOFILE = 4096;

export interface NofileLimit {
  soft: number; // Infinity for "unlimited"
  hard: number;
}

/** Parses the "Max open files" line of /proc/PID/limits. */
export function parseLimits(text: string): NofileLimit | undefined {
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(text);
  if (!m) return undefined;
  const n = (s: string) => (s === 'unlimited' ? Infinity : Number(s));
  return { soft: n(m[1]), hard: n(m[2]) };
}

/** This process's descriptor limit, or undefined where /proc is not there (not Linux). */
export function nofileLimit(): NofileLimit | undefined {
  try {
    return parseLimits(readFileSync('/proc/self/limits', 'utf8'));
  } catch {
    return undefined;
  }
}

/** Logs the limit once at start: info, or a warning that says what to do. */
export function logNofileLimit(log: {
  info(msg: string, f?: Record<string, unknown>): void;
  warn(msg: string, f?: Record<string, unknown>): void;
}): void {
  const limit = nofileLimit();
  if (!limit) return;
  const fields = { soft: limit.soft, hard: limit.hard };
  if (limit.soft < limit.hard)
    log.warn('descriptor limit: the soft limit is below the hard limit (Node did not raise it); raise it with ulimit -n', fields);
  else if (limit.soft < LOW_NOFILE)
    log.warn(
      `descriptor limit is low: each connection takes one; raise the hard limit (systemd LimitNOFILE=, docker --ulimit nofile=) to at least ${LOW_NOFILE}`,
      fields,
    );
  else log.info('descriptor limit', fields);
}
