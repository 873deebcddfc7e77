// sys.conf ([Host] nqn/id/key/symname) and the host identity derived from it (§3.8). sys.conf itself is read once;
// `file://` targets (and the /etc/nvme/host* defaults) are re-read on every access, as nvme-stas does, so that
// `stasadm hostnqn -f ...` takes effect without restarting anything that reads them later.
import { ConfigError, ConfigWarning, formatRef, fsReason, pythonOsErrorText } from './errors.js';
import { CONFIG_FILE_MAX_BYTES, KEY_FILE_MAX_BYTES, readFileBoundedSync } from '../common/bounded-read.js';
import { IniDocument, parseIniText } from './ini.js';
import { log } from '../common/log.js';

/** `/etc`, or $STAS_ETC when set (tests point it at a temporary folder: the real /etc is never touched). */
export function etcRoot(): string {
  return process.env.STAS_ETC ?? '/etc';
}

export interface HostFiles {
  /** sys.conf */
  readonly confFile: string;
  /** defaults used when [Host] has no nqn / id / key */
  readonly hostnqnFile: string;
  readonly hostidFile: string;
  readonly hostkeyFile: string;
}

export function defaultHostFiles(etc: string = etcRoot()): HostFiles {
  return {
    confFile: `${etc}/stas/sys.conf`,
    hostnqnFile: `${etc}/nvme/hostnqn`,
    hostidFile: `${etc}/nvme/hostid`,
    hostkeyFile: `${etc}/nvme/hostkey`,
  };
}

export const NQN_MAX_LEN = 223;

/** A mandatory host identity value is missing or malformed. `message` is nvme-stas's exact text. */
export class HostIdentityError extends Error {
  override readonly name = 'HostIdentityError';
}

/** Raised by file:// targets that exist but hold nothing: the value is undefined. */
const EMPTY = Symbol('empty');

function firstToken(path: string): string | typeof EMPTY {
  // bounded: `nqn=file:///dev/zero` must fail, not fill the memory
  const text = readFileBoundedSync(path, KEY_FILE_MAX_BYTES);
  const nl = text.indexOf('\n');
  const first = nl >= 0 ? text.slice(0, nl) : text;
  const tok = first.trim().split(/\s+/)[0];
  return tok ? tok : EMPTY;
}

export interface SysConfigOptions extends Partial<HostFiles> {
  /** receives the warnings of later accesses (symname file missing); default: the process logger */
  readonly onWarning?: (message: string) => void;
}

/** Host identity as configured in sys.conf. Getters re-read file:// targets each time. */
export class SysConfig {
  private constructor(
    readonly files: HostFiles,
    private readonly doc: IniDocument,
    private readonly onWarning: (message: string) => void,
  ) {}

  /**
   * Reads sys.conf (missing = all defaults). Throws ConfigError when it exists but cannot be read.
   * Warnings: syntax findings (bare keys, ...). Unknown keys are not checked (as nvme-stas).
   */
  static load(opts: SysConfigOptions = {}): { config: SysConfig; warnings: ConfigWarning[] } {
    const files: HostFiles = { ...defaultHostFiles(), ...stripUndefined(opts) };
    const doc = new IniDocument();
    try {
      parseIniText(doc, readFileBoundedSync(files.confFile, CONFIG_FILE_MAX_BYTES), files.confFile);
    } catch (e) {
      if (!(typeof e === 'object' && e !== null && (e as { code?: unknown }).code === 'ENOENT')) {
        const { reason, code } = fsReason(e);
        throw new ConfigError(files.confFile, reason, code);
      }
    }
    const onWarning = opts.onWarning ?? ((m: string) => log().warn(m));
    return { config: new SysConfig(files, doc, onWarning), warnings: [...doc.issues] };
  }

  /**
   * For a daemon: sys.conf as load() reads it, but a sys.conf that exists and cannot be read (a directory, no
   * permission, too large) is logged at error and the defaults are used, as nvme-stas's configparser does.
   */
  static loadForDaemon(opts: SysConfigOptions = {}): SysConfig {
    try {
      const { config, warnings } = SysConfig.load(opts);
      for (const w of warnings) log().warn(String(w));
      return config;
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      log().error(
        `${e.message}; using the [Host] defaults (${defaultHostFiles().hostnqnFile}, ${defaultHostFiles().hostidFile})`,
      );
      const files: HostFiles = { ...defaultHostFiles(), ...stripUndefined(opts) };
      return new SysConfig(files, new IniDocument(), opts.onWarning ?? ((m: string) => log().warn(m)));
    }
  }

  /**
   * Every problem of the host identity, for --check-config: file:line, [Host] option and what is wrong (nqn not an
   * NQN or too long, a file:// target missing, unreadable or too large). errors: the daemons cannot work with it.
   */
  problems(): { errors: string[]; warnings: string[] } {
    const errors: string[] = [];
    const warnings: string[] = [];
    const where = (option: string, defaultFile?: string): string => {
      const v = this.doc.lastJoined('Host', option);
      if (v) return `${formatRef(v.ref)}: [Host] ${option}`;
      return `${this.files.confFile}: [Host] ${option} (not set${defaultFile ? `: read from ${defaultFile}` : ''})`;
    };
    const check = (option: string, defaultFile: string, get: () => unknown, into: string[]): void => {
      try {
        get();
      } catch (e) {
        into.push(`${where(option, defaultFile)}: ${(e as Error).message}`);
      }
    };
    check('nqn', this.files.hostnqnFile, () => this.hostnqn, errors);
    check('id', this.files.hostidFile, () => this.hostid, errors);
    const key = this.raw('key');
    if (key?.startsWith('file://'))
      check('key', this.files.hostkeyFile, () => this.value('key', this.files.hostkeyFile), errors);
    if (this.raw('symname')?.startsWith('file://')) check('symname', '', () => this.value('symname'), warnings);
    return { errors, warnings };
  }

  /** The raw [Host] value (last occurrence, continuation lines joined), or undefined. */
  raw(option: string): string | undefined {
    return this.doc.lastJoined('Host', option)?.text;
  }

  /**
   * Value of a [Host] key: itself, or the first token of the first line of its file:// target, or (absent key)
   * of defaultFile. null when the target's first line is empty. fs errors propagate (ENOENT etc.).
   */
  private value(option: string, defaultFile?: string): { value: string | null; path?: string } {
    const v = this.raw(option);
    let path: string;
    if (v !== undefined) {
      if (!v.startsWith('file://')) return { value: v };
      path = v.slice('file://'.length);
    } else {
      if (defaultFile === undefined) return { value: null };
      path = defaultFile;
    }
    const t = firstToken(path);
    return { value: t === EMPTY ? null : t, path };
  }

  private mandatory(option: string, defaultFile: string, what: string): string {
    let r: { value: string | null; path?: string };
    try {
      r = this.value(option, defaultFile);
    } catch (e) {
      throw new HostIdentityError(
        `Error reading mandatory ${what} (see stasadm --help): ${pythonOsErrorText(e, pathOf(e, this.raw(option), defaultFile))}`,
      );
    }
    if (r.value === null) {
      // nvme-stas would carry None on and fail later; say it here instead
      throw new HostIdentityError(
        `Error reading mandatory ${what} (see stasadm --help): '${r.path ?? option}' is empty`,
      );
    }
    return r.value;
  }

  /** Host NQN; throws HostIdentityError (nvme-stas's exit messages) when missing or malformed. */
  get hostnqn(): string {
    const v = this.mandatory('nqn', this.files.hostnqnFile, 'Host NQN');
    if (!v.startsWith('nqn.')) throw new HostIdentityError(`Error Host NQN "${v}" should start with "nqn."`);
    if (v.length > NQN_MAX_LEN) {
      throw new HostIdentityError(`Error Host NQN is too long (${v.length} chars, max ${NQN_MAX_LEN} per NVMe spec)`);
    }
    return v;
  }

  /** Host ID; throws HostIdentityError when missing. */
  get hostid(): string {
    return this.mandatory('id', this.files.hostidFile, 'Host ID');
  }

  /** Host DH-HMAC-CHAP key, or null (absent file is normal). A secret: never log or publish it. */
  get hostkey(): string | null {
    try {
      return this.value('key', this.files.hostkeyFile).value;
    } catch (e) {
      log().debug(`Host key undefined: ${pythonOsErrorText(e, pathOf(e, this.raw('key'), this.files.hostkeyFile))}`);
      return null;
    }
  }

  /** Host symbolic name (TP8010 registration), or null. */
  get symname(): string | null {
    try {
      return this.value('symname').value;
    } catch (e) {
      this.onWarning(
        `Error reading host symbolic name (will remain undefined): ${pythonOsErrorText(e, pathOf(e, this.raw('symname'), ''))}`,
      );
      return null;
    }
  }
}

function pathOf(e: unknown, raw: string | undefined, defaultFile: string): string {
  const p = typeof e === 'object' && e !== null && 'path' in e ? (e as { path?: unknown }).path : undefined;
  if (typeof p === 'string') return p;
  return raw?.startsWith('file://') ? raw.slice(7) : defaultFile;
}

function stripUndefined(o: SysConfigOptions): Partial<HostFiles> {
  const out: Partial<Record<keyof HostFiles, string>> = {};
  for (const k of ['confFile', 'hostnqnFile', 'hostidFile', 'hostkeyFile'] as const)
    if (o[k] !== undefined) out[k] = o[k];
  return out;
}

/** Reads sys.conf (default path: $STAS_ETC/stas/sys.conf or /etc/stas/sys.conf). */
export function loadSysConfig(
  path?: string,
  opts: Omit<SysConfigOptions, 'confFile'> = {},
): { config: SysConfig; warnings: ConfigWarning[] } {
  return SysConfig.load({ ...opts, ...(path !== undefined ? { confFile: path } : {}) });
}

/** --check-config: sys.conf's syntax and the host identity it gives (errors: the daemons cannot use it). */
export function checkSysConfig(opts: SysConfigOptions = {}): { errors: string[]; warnings: string[] } {
  let loaded: { config: SysConfig; warnings: ConfigWarning[] };
  try {
    loaded = SysConfig.load(opts);
  } catch (e) {
    return { errors: [(e as Error).message], warnings: [] };
  }
  const p = loaded.config.problems();
  return { errors: [...loaded.warnings.map(String), ...p.errors], warnings: p.warnings };
}
