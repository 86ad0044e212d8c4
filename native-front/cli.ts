#!/usr/bin/env node
// The `hostd` command: parse flags, then either validate (`check`) or serve until a signal.
import { createRequire } from 'node:module';
import { HostdError } from '../shared/errors.js';
import { parseCli, USAGE, type CliArgs } from './cli/args.js';
import { check } from './cli/check.js';
import { ConfigError, createHost, type Host } from './host.js';
import { loadUws } from './uws.js';

function version(): string {
  // dist/cli.js and native-front/cli.ts both sit one folder below package.json.
  return (createRequire(import.meta.url)('../package.json') as { version: string }).version;
}

async function serve(args: CliArgs): Promise<number> {
  // Node starts its inspector on SIGUSR1 unless a listener exists: install ours before anything
  // slow (pools loading apps), so a logrotate run during startup cannot open a debugger port.
  let reopen: (() => void) | undefined;
  process.on('SIGUSR1', () => reopen?.());
  loadUws();
  let host: Host;
  try {
    host = await createHost({
      sites: args.sites,
      listen: args.listen,
      accessLog: args.accessLog,
      logFormat: args.logFormat,
      errorLog: args.errorLog,
      gracefulTimeout: args.gracefulTimeout,
      trustProxy: args.trustProxy,
      status: args.status,
    });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(err.message + '\n');
      return 1;
    }
    throw err;
  }
  await host.listen();

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    host.log.info('signal received, draining', { signal });
    void host.close().then(
      () => {
        process.exit(0);
      },
      (err) => {
        process.stderr.write(`hostd: shutdown failed: ${(err as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    if (stopping) return;
    host.log.info('SIGHUP: reloading configuration');
    host.reload().then(
      () => host.log.info('reloaded', { generation: host.generation }),
      (err) => host.log.error('reload failed; still serving the previous configuration', { error: (err as Error).message }),
    );
  });
  reopen = () => {
    host.reopenLogs();
    host.log.info('SIGUSR1: log files reopened');
  };
  return -1; // keep running
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
      return check(args);
    case 'serve':
      return serve(args);
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
    process.exitCode = known && err.code === 'HOSTD_USAGE' ? 2 : 1;
  },
);
