#!/usr/bin/env node
// The `hostd` command: parse flags, then validate (`check`), serve until a signal, or talk to a
// running hostd (`status`, `reload NAME`). Each command's module is imported when it runs: the
// short-lived ones need none of the serving code.
import { createRequire } from 'node:module';
import { HostdError } from '../../shared/errors.js';
import { parseCli, USAGE, type CliArgs } from './args.js';

function version(): string {
  // native-front/cli/main.ts sits one folder below package.json; built, this code is in dist/chunks/.
  const require = createRequire(import.meta.url);
  for (const path of ['../package.json', '../../package.json']) {
    try {
      const pkg = require(path) as { name?: string; version: string };
      if (pkg.name === 'hostd') return pkg.version;
    } catch {
      // not there: try the next
    }
  }
  return 'unknown';
}

async function main(argv: string[]): Promise<number> {
  let args: CliArgs;
  try {
    args = parseCli(argv);
  } catch (err) {
    process.stderr.write(`hostd: ${(err as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  switch (args.command) {
    case 'help':
      process.stdout.write(USAGE + '\n');
      return 0;
    case 'version':
      process.stdout.write(`hostd ${version()}\n`);
      return 0;
    case 'check':
      return (await import('./check.js')).check(args);
    case 'serve':
      return (await import('./serve.js')).serve(args);
    case 'status':
      return (await import('./status.js')).status(args);
    case 'reload':
      return (await import('./status.js')).reload({ ...args, site: args.site! });
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    // check may have started worker threads: exit explicitly rather than wait for them.
    if (code >= 0) process.exit(code);
  },
  (err) => {
    const known = err instanceof HostdError;
    process.stderr.write(`hostd: ${known ? err.message : ((err as Error).stack ?? String(err))}\n`);
    // Pools may have started worker threads before the failure (an address in use is found
    // after they start loading): exit rather than wait for them, which may be never.
    process.exit(known && err.code === 'HOSTD_USAGE' ? 2 : 1);
  },
);
