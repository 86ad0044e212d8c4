// `--user NAME[:GROUP]` (HostOptions.user): hostd started as root binds its listeners, reads its
// certificates, opens its log files and status socket, then the serving process drops to that
// user for good, before any app code runs: nginx's workers and Apache's children do the same.
// The supervisor is another process and stays as it was started, so a restart binds again.
// What the dropped process can no longer do: bind ports below the unprivileged start (a reload
// adding one fails for that site, unbindable() below), start processes as other users
// (pool.user/pool.group are config errors, shared/config/resolve/pool.ts), open files only root
// may (log reopen, certificates on reload: docs/operations.md).
import { chmodSync, lchownSync, lstatSync, mkdirSync, readFileSync } from 'node:fs';
import { defaultCacheDir } from '../../daemon/app/compile.js';
import { socketBase } from '../../daemon/pool/process-spec.js';
import { lineOfVhostKey } from '../../shared/config/resolve.js';
import { formatListen } from '../../shared/config/listen.js';
import { lookupGroup, lookupUser } from '../../shared/config/resolve/accounts.js';
import type { ConfigProblem, ResolvedVhost } from '../../shared/config/types.js';
import { HostdError } from '../../shared/errors.js';
import { threadFile } from '../../shared/thread-file.js';
import { startUid } from './runtime-dir.js';

/** The account the serving process drops to. */
export interface RunAs {
  /** As given: `www-data`, `www-data:www-data`, or numbers. */
  spec: string;
  user: string;
  uid: number;
  gid: number;
  /** The user is an /etc/passwd entry: its supplementary groups apply (initgroups). */
  named: boolean;
}

/** `NAME[:GROUP]` checked: hostd must be root, the user and group must exist. Throws HOSTD_USAGE. */
export function resolveRunAs(spec: string): RunAs {
  const [name, group, ...rest] = spec.split(':');
  if (!name || rest.length > 0 || group === '')
    throw new HostdError('HOSTD_USAGE', `--user "${spec}": expected NAME or NAME:GROUP (names or numbers)`);
  const uid = process.getuid?.();
  if (uid !== 0)
    throw new HostdError(
      'HOSTD_USAGE',
      `--user ${spec}: hostd is not running as root (uid ${uid}), and only root can switch to another user; start hostd as root or leave --user out`,
    );
  const u = lookupUser(name);
  if (!u) throw new HostdError('HOSTD_USAGE', `--user ${spec}: no such user "${name}" (not in /etc/passwd; a uid number also works)`);
  const g = group === undefined ? { gid: u.gid } : lookupGroup(group);
  if (!g) throw new HostdError('HOSTD_USAGE', `--user ${spec}: no such group "${group}" (not in /etc/group; a gid number also works)`);
  if (u.uid === 0) throw new HostdError('HOSTD_USAGE', `--user ${spec}: that is root; name an unprivileged user`);
  // A bare uid with no /etc/passwd entry comes back under its own number: it has no groups to init.
  const named = !(/^\d+$/.test(name) && u.name === name);
  return { spec, user: u.name, uid: u.uid, gid: g.gid, named };
}

/**
 * A folder owned by `to` (created if missing). In a shared /tmp someone else may have made it
 * first: only a real directory of root's or the user's is taken (hostd imports what it finds in
 * the compile cache).
 */
function ownedDir(dir: string, to: RunAs, mode: number): void {
  mkdirSync(dir, { recursive: true, mode });
  const st = lstatSync(dir);
  if (!st.isDirectory() || (st.uid !== 0 && st.uid !== to.uid))
    throw new HostdError('HOSTD_PRIVILEGES', `--user ${to.spec}: ${dir} is not a directory of root's or ${to.user}'s; remove it`);
  lchownSync(dir, to.uid, to.gid); // (not following a symlink swapped in since the lstat)
}

/**
 * What the dropped process will need and could not make itself: the worker and daemon-process
 * entries (bundled on first use when running from sources), the daemon processes' socket folder
 * (root's base, 0711, with a folder of the user's inside) and the compile cache of TypeScript apps.
 */
export async function prepareFor(to: RunAs): Promise<void> {
  await Promise.all([threadFile('worker'), threadFile('daemon-process')]);
  const base = socketBase(startUid); // root's (only root gets here)
  mkdirSync(base, { recursive: true });
  chmodSync(base, 0o711); // traversable by the user whatever the umask or an older hostd left
  ownedDir(socketBase(to.uid), to, 0o711);
  ownedDir(defaultCacheDir(to.uid), to, 0o700);
}

/**
 * Drops to `to`: supplementary groups, group, user, in that order (once the uid is not 0 the
 * others cannot change). Then checks it held, and that root cannot be taken back; throws
 * HOSTD_PRIVILEGES otherwise (the caller exits: never serve on as root by accident).
 */
export function dropTo(to: RunAs): void {
  try {
    // initgroups: the user's supplementary groups from /etc/group too (ssl-cert for keys), as nginx does.
    if (to.named) (process as unknown as { initgroups(user: string, gid: number): void }).initgroups(to.user, to.gid);
    else process.setgroups!([to.gid]);
    process.setgid!(to.gid);
    process.setuid!(to.uid);
  } catch (err) {
    throw new HostdError('HOSTD_PRIVILEGES', `--user ${to.spec}: could not drop privileges: ${(err as Error).message}`);
  }
  const ids = [process.getuid!(), process.geteuid!(), process.getgid!(), process.getegid!()];
  if (ids.join() !== [to.uid, to.uid, to.gid, to.gid].join())
    throw new HostdError('HOSTD_PRIVILEGES', `--user ${to.spec}: still uid/euid/gid/egid ${ids.join('/')} after the drop`);
  let regained = true;
  try {
    process.setuid!(0);
  } catch {
    regained = false;
  }
  if (regained) throw new HostdError('HOSTD_PRIVILEGES', `--user ${to.spec}: setuid(0) still works after the drop`);
}

/**
 * A hint for an EACCES on a file hostd reads again after the drop (a certificate on reload):
 * empty unless this process dropped from root.
 */
export function afterDrop(): string {
  const uid = process.getuid?.();
  if (startUid !== 0 || uid === 0) return '';
  return `; hostd serves as uid ${uid} since it dropped root (--user): that user must be able to read it (e.g. group ssl-cert, mode 0640)`;
}

/** The first port an unprivileged process may bind (net.ipv4.ip_unprivileged_port_start; 0 in many containers). */
export function unprivilegedPortStart(): number {
  try {
    const n = Number(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8').trim());
    return Number.isInteger(n) ? n : 1024;
  } catch {
    return 1024;
  }
}

/**
 * After the drop: every vhost whose listen address is not bound yet and whose port only root
 * may bind, as a problem of its file at its `listen` line (a SIGHUP keeps that site at its
 * running configuration, site-reload.ts).
 */
export function unbindable(vhosts: readonly ResolvedVhost[], held: ReadonlySet<string>, user: string): ConfigProblem[] {
  const start = unprivilegedPortStart();
  return vhosts.flatMap((v) => {
    const { port } = v.listen;
    if (port === 0 || port >= start || held.has(formatListen(v.listen))) return [];
    const message = `listen: hostd runs as user "${user}" since it bound its listeners (--user) and cannot bind port ${port} (below ${start}, root only); restart hostd to listen there`;
    return [{ file: v.file, line: lineOfVhostKey(v, 'listen'), message }];
  });
}
