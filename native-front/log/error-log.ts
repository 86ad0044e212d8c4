// hostd's error log: one line per event, `time level message key=value ...`, to stderr or a file.
import type { ErrorLog } from '../mount.js';
import { LogFile } from './destination.js';

export type Level = 'info' | 'warn' | 'error';

function formatValue(v: unknown): string {
  const s = v instanceof Error ? (v.stack ?? v.message) : typeof v === 'string' ? v : JSON.stringify(v);
  return /[\s"=]/.test(s ?? '') ? JSON.stringify(s) : String(s);
}

export class FileErrorLog extends LogFile implements ErrorLog {

  constructor(target = '-') {
    super(target, 2);
  }

  log(level: Level, msg: string, fields?: Record<string, unknown>): void {
    let line = `${new Date().toISOString()} ${level} ${msg}`;
    if (fields) for (const k in fields) if (fields[k] !== undefined) line += ` ${k}=${formatValue(fields[k])}`;
    this.emit(line + '\n');
  }

  info(msg: string, fields?: Record<string, unknown>): void {
    this.log('info', msg, fields);
  }
  warn(msg: string, fields?: Record<string, unknown>): void {
    this.log('warn', msg, fields);
  }
  error(msg: string, fields?: Record<string, unknown>): void {
    this.log('error', msg, fields);
  }
}
