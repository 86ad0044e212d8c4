// `pool.user` and `pool.group`: names (or numeric ids) looked up in /etc/passwd and /etc/group
// when the configuration is read, so that an unknown name is a config error at its line rather
// than a daemon process failing to start. Accounts served only by NSS modules (LDAP, sssd) are not
// in those files: name them by number.
import { readFileSync } from 'node:fs';

export interface Account {
  name: string;
  uid: number;
  /** The user's primary group. */
  gid: number;
}

export interface Group {
  name: string;
  gid: number;
}

/** Rows of a colon-separated database (name:x:id:...). */
function rows(file: string): string[][] {
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith('#'))
      .map((l) => l.split(':'));
  } catch {
    return [];
  }
}

const isId = (s: string) => /^\d+$/.test(s);

/**
 * The user the serving process drops to after binding (`--user`, native-front/control/privileges.ts),
 * set before the configuration is first read: from then on pool.user/pool.group cannot work
 * (starting a process as another user needs root), and the configuration says so at the key.
 * Process-wide, as the drop itself is.
 */
let dropTarget: string | undefined;

export function setDropTarget(name: string | undefined): void {
  dropTarget = name;
}

export function droppingTo(): string | undefined {
  return dropTarget;
}

/** The user named (or numbered) `name`, or undefined when /etc/passwd has no such user. */
export function lookupUser(name: string, passwd = '/etc/passwd'): Account | undefined {
  for (const r of rows(passwd)) {
    if (r[0] === name || (isId(name) && r[2] === name)) return { name: r[0], uid: Number(r[2]), gid: Number(r[3]) };
  }
  // A bare uid without an entry still names a uid (its group: the same number).
  return isId(name) ? { name, uid: Number(name), gid: Number(name) } : undefined;
}

/** The group named (or numbered) `name`, or undefined. */
export function lookupGroup(name: string, group = '/etc/group'): Group | undefined {
  for (const r of rows(group)) if (r[0] === name || (isId(name) && r[2] === name)) return { name: r[0], gid: Number(r[2]) };
  return isId(name) ? { name, gid: Number(name) } : undefined;
}
