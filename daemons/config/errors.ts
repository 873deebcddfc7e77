// Typed errors and warnings of the configuration layer. Every message names the file (and line where there is one)
// so that an operator can find the offending text without guessing.
import { FileTooLargeError } from '../common/bounded-read.js';

/** Where a piece of configuration text came from. line is 1-based; 0 means "the file as a whole". */
export interface SourceRef {
  readonly file: string;
  readonly line: number;
}

export function formatRef(ref: SourceRef): string {
  return ref.line > 0 ? `${ref.file}:${ref.line}` : ref.file;
}

/**
 * How bad a finding is. `error`: the file does not say what its author meant (malformed entry, invalid value,
 * binary data): a reload refuses the file. `note`: nvme-stas accepts it too (unknown option or section, an entry the
 * daemon drops): logged, the file is applied.
 */
export type Severity = 'error' | 'note';

/** A finding in a configuration file; the configuration built from it is still usable (defaults replace bad values). */
export class ConfigWarning {
  constructor(
    readonly ref: SourceRef,
    /** message without the file:line prefix */
    readonly message: string,
    readonly section?: string,
    readonly option?: string,
    readonly severity: Severity = 'error',
  ) {}

  /** `/etc/stas/stafd.conf:12: [Global] queue-size: "8" is not within range 16..1024; using default (none)` */
  toString(): string {
    return `${formatRef(this.ref)}: ${this.message}`;
  }
}

/** Values echoed in config messages: the shared cut (daemons/common/echo.ts). */
export { echoValue as echo } from '../common/echo.js';

/** A configuration file (or drop-in folder) exists but cannot be read. The caller keeps its previous configuration. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly path: string,
    readonly reason: string,
    /** errno code such as EACCES or EISDIR, when the cause was a system call */
    readonly code?: string,
  ) {
    super(`Cannot read configuration file ${path}: ${reason}`);
  }
}

/** Python's text for an OSError, e.g. `[Errno 2] No such file or directory: '/etc/nvme/hostnqn'`. */
export function pythonOsErrorText(err: unknown, path: string): string {
  const code = typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : '';
  const known: Record<string, [number, string]> = {
    ENOENT: [2, 'No such file or directory'],
    EACCES: [13, 'Permission denied'],
    EPERM: [1, 'Operation not permitted'],
    EISDIR: [21, 'Is a directory'],
    ENOTDIR: [20, 'Not a directory'],
    ELOOP: [40, 'Too many levels of symbolic links'],
    EIO: [5, 'Input/output error'],
  };
  const k = known[code];
  if (k) return `[Errno ${k[0]}] ${k[1]}: '${path}'`;
  const msg = err instanceof Error ? err.message : String(err);
  return `${msg}: '${path}'`;
}

/** Short reason for a ConfigError, from a Node fs error. */
export function fsReason(err: unknown): { reason: string; code?: string } {
  if (err instanceof FileTooLargeError)
    return { reason: `larger than ${err.maxBytes} bytes (not read)`, code: err.code };
  const code =
    typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      return { reason: 'permission denied', code };
    case 'EISDIR':
      return { reason: 'is a directory', code };
    case 'ENOTDIR':
      return { reason: 'not a directory', code };
    case 'ELOOP':
      return { reason: 'too many levels of symbolic links', code };
    default:
      return { reason: err instanceof Error ? err.message : String(err), code };
  }
}
