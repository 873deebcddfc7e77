// One pino logger per process. `tron` switches debug on and off at run time (D-Bus property, --tron, tron= in conf).
import { pino, type Logger } from 'pino';
import { redactObject, redactSecrets } from './secrets.js';

export type { Logger };

let root: Logger | undefined;

export interface LogOptions {
  /** program name, used as the log "name" (and the syslog identifier when run by systemd) */
  name: string;
  tron?: boolean;
  /** write to this fd instead of stdout (tests) */
  destination?: number | string;
}

/** Creates (once) and returns the process logger. */
export function initLog(opts: LogOptions): Logger {
  root = pino(
    {
      name: opts.name,
      level: opts.tron ? 'debug' : 'info',
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      // never let a secret reach a log line, whatever object or text a caller passes, in any key spelling
      // (dhchap_secret, DHCHAP-SECRET): the paths below are a second net for the usual spellings
      formatters: { log: (obj) => redactObject(obj) as Record<string, unknown> },
      hooks: {
        logMethod(args, method) {
          method.apply(
            this,
            args.map((a: unknown) => (typeof a === 'string' ? redactSecrets(a) : a)) as Parameters<typeof method>,
          );
        },
      },
      redact: {
        paths: ['*.dhchap-secret', '*.dhchap-ctrl-secret', '*.hostkey', '*.key', 'dhchap-secret', 'dhchap-ctrl-secret'],
        censor: '<redacted>',
      },
    },
    pino.destination({ dest: opts.destination ?? 1, sync: true }),
  );
  return root;
}

/** The process logger; a quiet default before initLog (library code used by CLIs and tests). */
export function log(): Logger {
  if (!root) root = pino({ level: process.env.STAS_LOG_LEVEL ?? 'silent' });
  return root;
}

export function setTron(on: boolean): void {
  log().level = on ? 'debug' : 'info';
}

export function isTron(): boolean {
  return log().level === 'debug';
}

/** nvme-stas reports Python logging level names: DEBUG or INFO in practice. */
export function pythonLevelName(): string {
  const l = log().level;
  return l === 'debug' || l === 'trace'
    ? 'DEBUG'
    : l === 'warn'
      ? 'WARNING'
      : l === 'error'
        ? 'ERROR'
        : l === 'fatal'
          ? 'CRITICAL'
          : 'INFO';
}
