// The system users of the tests that need root (process pools under pool.user, hostd --user):
// created when missing (.ci/run creates them too), and checked able to read the checkout, as the
// processes that run as them load hostd's own files (dist/, the bundles in node_modules/.cache).
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { type Account, lookupUser } from '../../shared/config/resolve/accounts.js';

export const TEST_USERS = ['hostd-a', 'hostd-b'] as const;
export type TestUser = (typeof TEST_USERS)[number];

/** Creates the test users when missing (root only); throws when they cannot read the checkout. */
export function ensureTestUsers(): Record<TestUser, Account> {
  for (const name of TEST_USERS) {
    try {
      execFileSync('id', ['-u', name], { stdio: 'ignore' });
    } catch {
      execFileSync('useradd', ['--system', '--no-create-home', name]);
    }
  }
  const users = { 'hostd-a': lookupUser('hostd-a')!, 'hostd-b': lookupUser('hostd-b')! };
  const a = users['hostd-a'];
  try {
    execFileSync('test', ['-r', resolve('package.json')], { uid: a.uid, gid: a.gid });
  } catch {
    throw new Error(`hostd-a cannot read ${resolve('package.json')}: make the checkout's folders traversable (chmod o+x), as .ci/run does`);
  }
  return users;
}
