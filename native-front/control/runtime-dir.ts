// Where hostd keeps its runtime files (the default status socket), so that `hostd status` and
// `hostd reload NAME` find a running hostd with no options. Resolved the same way by the server
// (which binds the socket) and by the CLI commands (which connect to it):
//   $HOSTD_RUNTIME_DIR                      when set (tests, several hostds on one machine)
//   /run/hostd                              when running as root (systemd's RuntimeDirectory=hostd)
//   $XDG_RUNTIME_DIR/hostd                  for a user session
//   <os.tmpdir()>/hostd-<uid>               otherwise
// The folder is created mode 0700 and the socket chmod 0600: only hostd's own user reaches it,
// so the default socket needs no token.
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The uid hostd started as (this module is loaded before a --user drop, control/privileges.ts):
 * the runtime folder stays the one created as root, where `hostd status` run as root finds it.
 */
export const startUid = process.getuid?.() ?? 0;

/** The folder holding hostd's runtime files. */
export function runtimeDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HOSTD_RUNTIME_DIR) return env.HOSTD_RUNTIME_DIR;
  const uid = startUid;
  if (uid === 0) return '/run/hostd';
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, 'hostd');
  return join(tmpdir(), `hostd-${uid}`);
}

/** The default status listener's Unix socket: on unless --status moves it. */
export function defaultStatusSocket(env: NodeJS.ProcessEnv = process.env): string {
  return join(runtimeDir(env), 'hostd.sock');
}
