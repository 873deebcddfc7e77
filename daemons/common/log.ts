// One pino logger per process. `tron` switches debug on and off at run time (D-Bus property, --tron, tron= in conf).
import { pino, type Logger } from 'pino';
import { redactObject, redactSecrets } from './secrets.js';
import { RepeatLimiter } from './repeat-limiter.js';

export type { Logger };

let root: Logger | undefined;

/**
 * The same warning or error line at most 5 times a minute (repeat-limiter.ts): that is where a hostile or broken
 * peer makes a daemon repeat itself. Info and debug lines (which tell a story in order), fatal lines and the answers
 * to the operator's reloads always pass.
 */
const REPEAT_WINDOW_MS = 60_000;
const repeats = new RepeatLimiter(5, REPEAT_WINDOW_MS);
const WARN = 40;
const FATAL = 60;

function limited(level: number, text: string): boolean {
  return level >= WARN && level < FATAL && !text.startsWith('reload') && !repeats.admit(`${level}:${text}`);
}

/** Writes one line per line held back since the last call; runs once a window. */
export function reportSuppressedLines(): void {
  for (const { key, count } of repeats.drain()) {
    const text = key.slice(key.indexOf(':') + 1);
    root?.warn(`${count} more line(s) like this one suppressed in the last ${REPEAT_WINDOW_MS / 1000} s: ${text}`);
  }
}

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
        logMethod(args, method, level) {
          const text = typeof args[0] === 'string' ? args[0] : typeof args[1] === 'string' ? args[1] : '';
          if (limited(level, text)) return;
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
  setInterval(reportSuppressedLines, REPEAT_WINDOW_MS).unref();
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
