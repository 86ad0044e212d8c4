#!/usr/bin/env node
// The `hostd` executable (dist/cli.js). Kept small on purpose: its first statement installs the
// signal handlers (signals.ts), before the ~300 ms it takes Node to load the rest of hostd
// (uWebSockets.js, piscina, ajv, yaml, ...), which it imports only afterwards. Then:
// - `hostd` serving, supervised (the default): becomes the supervisor (parent.ts), which loads
//   none of the rest and runs the serving process as its child;
// - the serving process (--no-supervisor, or the supervisor's child), `check`, `--help`: runs the
//   CLI proper (../cli.ts). Only serving keeps the held signals; the others get Node's defaults.
import { parseCli, type CliArgs } from '../cli/args.js';
import { parseDuration } from '../../shared/config/duration.js';
import { isSupervisedChild, tellSupervisor } from './child.js';
import { holdSignals, releaseSignals } from './signals.js';

holdSignals();
tellSupervisor('armed');

let args: CliArgs | undefined;
try {
  args = parseCli(process.argv.slice(2));
} catch {
  args = undefined; // the CLI proper reports the usage error
}

if (args?.command === 'serve' && args.supervisor && !isSupervisedChild()) {
  const { runSupervisor } = await import('./parent.js');
  runSupervisor({
    argv: process.argv.slice(2),
    errorLog: args.errorLog,
    // An invalid duration fails in the child, which exits 1 before serving.
    gracefulTimeoutMs: (args.gracefulTimeout === undefined ? undefined : parseDuration(args.gracefulTimeout)) ?? 30_000,
  });
} else {
  if (args?.command !== 'serve') releaseSignals();
  await import('../cli/main.js');
}
