// The one logger interface every part of hostd writes its error-log lines through: the front,
// the pools, the control thread. Fields become `key=value` pairs (or JSON members).
export interface Logger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export type Level = 'info' | 'warn' | 'error';

/** A logger that adds `extra` fields to every line of `log`. */
export function withFields(log: Logger, extra: Record<string, unknown>): Logger {
  return {
    info: (msg, f) => log.info(msg, { ...extra, ...f }),
    warn: (msg, f) => log.warn(msg, { ...extra, ...f }),
    error: (msg, f) => log.error(msg, { ...extra, ...f }),
  };
}

/** A mount's URL prefix as logs and metrics show it: "" (the root mount) is "/". */
export function mountLabel(url: string): string {
  return url || '/';
}
