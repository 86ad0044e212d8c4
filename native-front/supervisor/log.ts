// The supervisor's log lines, in the error log's format (`time level message key=value ...`)
// and in the same place: appended to the --error-log file, or written to stderr. Each line is
// appended synchronously (open, write, close): the supervisor writes a handful of lines a day,
// each must be on disk before it exits, and a file renamed by logrotate needs no reopen.
import { appendFileSync } from 'node:fs';

export type SupervisorLog = (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

function formatValue(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return /[\s"=]/.test(s ?? '') ? JSON.stringify(s) : String(s);
}

export function supervisorLog(target: string | undefined): SupervisorLog {
  const toStderr = target === undefined || target === '-' || target === '';
  return (level, msg, fields) => {
    let line = `${new Date().toISOString()} ${level} supervisor: ${msg}`;
    if (fields) for (const k in fields) if (fields[k] !== undefined) line += ` ${k}=${formatValue(fields[k])}`;
    line += '\n';
    try {
      if (toStderr) process.stderr.write(line);
      else appendFileSync(target, line);
    } catch (err) {
      process.stderr.write(`hostd: supervisor: cannot write to ${target}: ${(err as Error).message}\n${line}`);
    }
  };
}
