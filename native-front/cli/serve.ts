// `hostd` serving (the default command): build the host, listen, and act on signals until a
// drain ends it. This is the serving process: the supervisor's child, or with --no-supervisor
// the process the user started.
import { formatProblem } from '../../shared/config/index.js';
import type { CliArgs } from './args.js';
import { ConfigError, createHost, type Host } from '../control/host.js';
import { tellSupervisor, watchSupervisor } from '../supervisor/child.js';
import { logNofileLimit } from '../supervisor/nofile.js';
import { onSignals } from '../supervisor/signals.js';
import { loadUws } from '../http/uws.js';
import { oneApp } from './one-app.js';

/** Resolves with an exit code, or -1 once serving (the process then lives until a signal ends it). */
export async function serve(args: CliArgs): Promise<number> {
  // Signals are held from the first statement of the executable (supervisor/boot.ts) until the
  // host is ready; before that, SIGHUP and SIGUSR1 wait for it, SIGTERM/SIGINT exit at once
  // (nothing is serving yet, nothing to drain, and an app whose import never settles must not
  // make startup unstoppable). Node opens an inspector on SIGUSR1 without a listener: ours is
  // there before anything slow runs.
  let host: Host | undefined;
  let ready = false;
  let stopping = false;
  let reloadWanted = false;
  let reopenWanted = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    if (!ready || !host) {
      process.stderr.write(`hostd: ${signal} received before serving; exiting\n`);
      process.exit(0);
    }
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
  const reload = (h: Host) => {
    h.log.info('SIGHUP: reloading configuration');
    // One site's broken file (or app) keeps that site on its previous configuration; the rest apply.
    h.reload(undefined, { keepBroken: true }).then(
      (kept) => {
        for (const p of kept) h.log.error('reload: this site keeps its previous configuration', { problem: formatProblem(p) });
        h.log.info('reloaded', { generation: h.generation, ...(kept.length ? { keptPrevious: kept.length } : {}) });
      },
      (err) => h.log.error('reload failed; still serving the previous configuration', { error: (err as Error).message }),
    );
  };
  const reopen = (h: Host) => {
    h.reopenLogs();
    h.log.info('SIGUSR1: log files reopened');
  };
  onSignals((signal) => {
    if (signal === 'SIGTERM' || signal === 'SIGINT') return stop(signal);
    if (stopping) return;
    if (signal === 'SIGHUP') {
      if (ready && host) reload(host);
      else reloadWanted = true; // the files may have changed since they were read: reload once ready
    } else if (ready && host) reopen(host);
    else reopenWanted = true;
  });
  loadUws();
  // `hostd ./server.mjs`: that one module instead of --sites (one-app.ts).
  const one = args.app === undefined ? undefined : oneApp(args.app, args.listen);
  try {
    host = await createHost({
      sites: one ? [one.site] : args.sites,
      listen: one ? one.listen : args.listen,
      accessLog: args.accessLog,
      logFormat: args.logFormat,
      errorLog: args.errorLog,
      gracefulTimeout: args.gracefulTimeout,
      trustProxy: args.trustProxy,
      status: args.status,
      statusDefault: args.statusDefault,
      statusTokenFile: args.statusTokenFile,
      fronts: args.fronts,
      maxMemory: args.maxMemory,
      user: args.user,
    });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(err.message + '\n');
      return 1;
    }
    throw err;
  }
  if (one && (one.staticUrls.length || one.leftToApp.length))
    host.log.info('public/: its folders are static mounts served by hostd; its top-level files are left to the app', {
      static: one.staticUrls.join(',') || undefined,
      app: one.leftToApp.join(',') || undefined,
    });
  // A front thread failed: hostd cannot go on with fewer fronts; exit 70 (the supervisor restarts it).
  const serving = host;
  serving.on('error', (err: Error) => {
    process.stderr.write(`hostd: ${err.message}\n`);
    void serving.flushLogs().finally(() => process.exit(70));
  });
  await host.listen();
  ready = true;
  tellSupervisor('serving');
  watchSupervisor((pid) =>
    host?.log.error('the supervisor is gone; serving unsupervised (restart hostd to supervise it again)', { supervisor: pid }),
  );
  logNofileLimit(host.log);
  if (reopenWanted) reopen(host);
  if (reloadWanted) reload(host);
  return -1; // keep running
}
