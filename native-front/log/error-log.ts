// hostd's error log: one line per event, `time level message key=value ...`, to stderr or a file.
import type { Level, Logger } from '../../shared/log.js';
import { LogFile } from './destination.js';

function formatValue(v: unknown): string {
  const s = v instanceof Error ? (v.stack ?? v.message) : typeof v === 'string' ? v : JSON.stringify(v);
  return /[\s"=]/.test(s ?? '') ? JSON.stringify(s) : String(s);
}

export function formatErrorLine(level: Level, msg: string, fields?: Record<string, unknown>): string {
  let line = `${new Date().toISOString()} ${level} ${msg}`;
  if (fields) for (const k in fields) if (fields[k] !== undefined) line += ` ${k}=${formatValue(fields[k])}`;
  return `${line}\n`;
}

export class FileErrorLog extends LogFile implements Logger {
  constructor(target = '-') {
    super(target, 2);
  }

  log(level: Level, msg: string, fields?: Record<string, unknown>): void {
    this.write(formatErrorLine(level, msg, fields));
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
