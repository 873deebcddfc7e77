// stafd.conf / stacd.conf: reading (main file + `<file>.d/*.conf` drop-ins), section/option validation and typed
// access to every option. Values are computed once at load, so each problem is reported once.
import { readdirSync, statSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { ConfigError, ConfigWarning, echo, fsReason, type SourceRef } from './errors.js';
import { CONFIG_FILE_MAX_BYTES, readFileBounded, readFileBoundedSync } from '../common/bounded-read.js';
import { isSecretKey } from '../common/secrets.js';
import { IniDocument, parseIniText } from './ini.js';
import {
  checkText,
  describeValue,
  fallbackValue,
  isOptionKey,
  LEGACY_HINTS,
  OPTION_SPECS,
  SEC_CONTROLLERS,
  validOptions,
  type DisconnectScope,
  type IpFamily,
  type OptionKey,
  type OptionTypes,
  type ServiceKind,
} from './options.js';
import {
  configuredTid,
  parseControllerValue,
  parseExcludeValue,
  resolveConnectParams,
  type ConnectParam,
  type ControllerSpec,
  type ExcludeSpec,
} from './controllers.js';
import type { TimeSpan } from './timespan.js';
import type { CidValue } from '../common/tid.js';
import type { ExcludeEntry } from '../common/exclude.js';

export interface ConfigFileText {
  readonly path: string;
  readonly text: string;
  /** permission bits when read from disk (a secret in a world-readable file is reported) */
  readonly mode?: number;
}

const modeOf = (path: string): number | undefined => {
  try {
    return statSync(path).mode & 0o7777;
  } catch {
    return undefined;
  }
};
const modeOfAsync = async (path: string): Promise<number | undefined> =>
  stat(path).then(
    (st) => st.mode & 0o7777,
    () => undefined,
  );

const isEnoent = (e: unknown): boolean =>
  typeof e === 'object' && e !== null && (e as { code?: unknown }).code === 'ENOENT';

function fail(path: string, err: unknown): never {
  const { reason, code } = fsReason(err);
  throw new ConfigError(path, reason, code);
}

/** The drop-in folder of a configuration file: `/etc/stas/stafd.conf` -> `/etc/stas/stafd.conf.d`. */
export function dropInDir(path: string): string {
  return `${path}.d`;
}

const dropInNames = (names: string[]): string[] =>
  names.filter((n) => n.endsWith('.conf') && !n.startsWith('.')).sort();

/**
 * Reads the main file and its drop-ins (lexical order). A missing main file or folder means "nothing there"
 * (defaults, as nvme-stas); anything that exists but cannot be read throws ConfigError.
 */
export function readConfigFiles(path: string): ConfigFileText[] {
  const out: ConfigFileText[] = [];
  try {
    out.push({ path, text: readFileBoundedSync(path, CONFIG_FILE_MAX_BYTES), mode: modeOf(path) });
  } catch (e) {
    if (!isEnoent(e)) fail(path, e);
  }
  const dir = dropInDir(path);
  let names: string[] = [];
  try {
    names = dropInNames(readdirSync(dir));
  } catch (e) {
    if (!isEnoent(e)) fail(dir, e);
  }
  for (const n of names) {
    const p = `${dir}/${n}`;
    try {
      out.push({ path: p, text: readFileBoundedSync(p, CONFIG_FILE_MAX_BYTES), mode: modeOf(p) });
    } catch (e) {
      if (!isEnoent(e)) fail(p, e); // vanished between readdir and read: fine
    }
  }
  return out;
}

/** Same as readConfigFiles without blocking the event loop (daemon reloads). */
export async function readConfigFilesAsync(path: string): Promise<ConfigFileText[]> {
  const out: ConfigFileText[] = [];
  try {
    out.push({ path, text: await readFileBounded(path, CONFIG_FILE_MAX_BYTES), mode: await modeOfAsync(path) });
  } catch (e) {
    if (!isEnoent(e)) fail(path, e);
  }
  const dir = dropInDir(path);
  let names: string[] = [];
  try {
    names = dropInNames(await readdir(dir));
  } catch (e) {
    if (!isEnoent(e)) fail(dir, e);
  }
  for (const n of names) {
    const p = `${dir}/${n}`;
    try {
      out.push({ path: p, text: await readFileBounded(p, CONFIG_FILE_MAX_BYTES), mode: await modeOfAsync(p) });
    } catch (e) {
      if (!isEnoent(e)) fail(p, e);
    }
  }
  return out;
}

type Values = { -readonly [K in OptionKey]: OptionTypes[K] };
type Sources = { [K in OptionKey]?: SourceRef };

/** The parsed, validated configuration of one daemon. Immutable; a reload builds a new one. */
export class ServiceConfig {
  private constructor(
    readonly kind: ServiceKind,
    /** main configuration file path (whether or not it exists) */
    readonly path: string,
    /** files actually read, main first */
    readonly files: readonly string[],
    private readonly values: Values,
    private readonly sources: Sources,
    readonly controllerSpecs: readonly ControllerSpec[],
    readonly excludeSpecs: readonly ExcludeSpec[],
    /** the texts this configuration was built from (the storage sections of stacd read them, a reload keeps them) */
    readonly texts: readonly ConfigFileText[],
  ) {}

  /** Builds the configuration from already-read files. Never throws; problems become warnings. */
  static fromFiles(
    kind: ServiceKind,
    path: string,
    files: readonly ConfigFileText[],
  ): { config: ServiceConfig; warnings: ConfigWarning[] } {
    const doc = new IniDocument();
    const binary: ConfigWarning[] = [];
    for (const f of files) {
      const bad = binaryLine(f.text);
      if (bad > 0)
        binary.push(
          new ConfigWarning(
            { file: f.path, line: bad },
            'not a text file (NUL, control characters or invalid UTF-8 from this line on)',
          ),
        );
      parseIniText(doc, f.text, f.path);
    }
    const warnings: ConfigWarning[] = [...binary, ...doc.issues];
    warnings.push(...validateStructure(kind, doc));

    const values = {} as Record<OptionKey, unknown>;
    const sources: Record<string, SourceRef> = {};
    for (const key of Object.keys(OPTION_SPECS) as OptionKey[]) {
      const spec = OPTION_SPECS[key];
      const fallback = fallbackValue(kind, key);
      const last = doc.last(spec.section, spec.name);
      if (!last) {
        values[key] = fallback;
        continue;
      }
      const r = checkText<unknown>(
        spec as never,
        last.text,
        fallback,
        last.ref,
        warnings,
        `[${spec.section}] ${spec.name}`,
        `using default (${describeValue(fallback)})`,
      );
      values[key] = r.value;
      if (r.ok) sources[key] = last.ref;
    }
    const controllers = doc.values(SEC_CONTROLLERS, 'controller').map((v) => parseControllerValue(kind, v, warnings));
    const excludes = doc.values(SEC_CONTROLLERS, 'exclude').map((v) => parseExcludeValue(v, warnings));
    const config = new ServiceConfig(kind, path, [...doc.files], values as Values, sources, controllers, excludes, [
      ...files,
    ]);
    warnings.push(...entryNotes(kind, config, files));
    // report in reading order: file by file, line by line
    const fileIndex = (f: string): number => doc.files.indexOf(f);
    warnings.sort((a, b) => fileIndex(a.ref.file) - fileIndex(b.ref.file) || a.ref.line - b.ref.line);
    return { config, warnings };
  }

  /** The value of an option (file value if valid, else the daemon's default). */
  get<K extends OptionKey>(key: K): OptionTypes[K] {
    return this.values[key];
  }

  /** Where the value came from; undefined when it is the default. */
  source(key: OptionKey): SourceRef | undefined {
    return this.sources[key];
  }

  get tron(): boolean {
    return this.get('Global/tron');
  }
  get hdrDigest(): boolean {
    return this.get('Global/hdr-digest');
  }
  get dataDigest(): boolean {
    return this.get('Global/data-digest');
  }
  get kato(): number | null {
    return this.get('Global/kato');
  }
  get queueSize(): number | null {
    return this.get('Global/queue-size');
  }
  get nrIoQueues(): number | null {
    return this.get('Global/nr-io-queues');
  }
  get nrWriteQueues(): number | null {
    return this.get('Global/nr-write-queues');
  }
  get nrPollQueues(): number | null {
    return this.get('Global/nr-poll-queues');
  }
  get reconnectDelay(): number | null {
    return this.get('Global/reconnect-delay');
  }
  get ctrlLossTmo(): number | null {
    return this.get('Global/ctrl-loss-tmo');
  }
  get disableSqflow(): boolean | null {
    return this.get('Global/disable-sqflow');
  }
  get ignoreIface(): boolean {
    return this.get('Global/ignore-iface');
  }
  get ipFamily(): IpFamily {
    return this.get('Global/ip-family');
  }
  get ipv4Enabled(): boolean {
    return this.ipFamily.includes(4);
  }
  get ipv6Enabled(): boolean {
    return this.ipFamily.includes(6);
  }
  get pleo(): boolean {
    return this.get('Global/pleo');
  }
  get zeroconf(): boolean {
    return this.get('Service Discovery/zeroconf');
  }
  /** mDNS service types to browse ([] when zeroconf is disabled) */
  get stypes(): string[] {
    return this.zeroconf ? ['_nvme-disc._tcp', '_nvme-disc._udp'] : [];
  }
  get persistentConnections(): boolean {
    return this.get('Discovery controller connection management/persistent-connections');
  }
  get zeroconfPersistence(): TimeSpan {
    return this.get('Discovery controller connection management/zeroconf-connections-persistence');
  }
  /** seconds; negative = never remove, 0 = remove on the next pass */
  get zeroconfPersistenceSec(): number {
    return this.zeroconfPersistence.seconds;
  }
  get disconnectScope(): DisconnectScope {
    return this.get('I/O controller connection management/disconnect-scope');
  }
  get disconnectTrtypes(): readonly string[] {
    return this.get('I/O controller connection management/disconnect-trtypes');
  }
  get connectAttemptsOnNcc(): number {
    return this.get('I/O controller connection management/connect-attempts-on-ncc');
  }

  /** Every controller= entry in order (before the configured-entry filters: see configuredTid). */
  get controllers(): readonly ControllerSpec[] {
    return this.controllerSpecs;
  }
  /** Every exclude= entry in order (an empty entry excludes everything). */
  get excludes(): readonly ExcludeEntry[] {
    return this.excludeSpecs.map((e) => e.entry);
  }

  /** Resolved [Global] value of a connect option, by its config name (`kato`, `queue-size`, ...). */
  globalConnectValue(option: string): number | boolean | null {
    const key = `Global/${option}`;
    if (!isOptionKey(key)) return null;
    const v = this.get(key);
    return typeof v === 'number' || typeof v === 'boolean' ? v : null;
  }

  /** Connect parameters for a controller with this config bag (empty for DLPE-learned controllers). */
  connectParams(bag: ReadonlyMap<string, CidValue> = new Map()): ConnectParam[] {
    return resolveConnectParams((o) => this.globalConnectValue(o), bag);
  }
}

/** 1-based line of the first NUL, other C0 control character (tab, CR, LF, FF aside) or invalid UTF-8; 0 when none. */
function binaryLine(text: string): number {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what this looks for
  const i = text.search(/[\u0000-\u0008\u000e-\u001f\u007f\ufffd]/);
  return i < 0 ? 0 : text.slice(0, i).split(/\r\n|\r|\n/).length;
}

/**
 * Notes on entries that are valid but probably not what was meant: controller= lines the daemon drops (nvme-stas
 * drops them silently) and secrets written inline in a file that every user can read.
 */
function entryNotes(kind: ServiceKind, config: ServiceConfig, files: readonly ConfigFileText[]): ConfigWarning[] {
  const out: ConfigWarning[] = [];
  const where = `[${SEC_CONTROLLERS}] controller`;
  const modes = new Map(files.map((f) => [f.path, f.mode]));
  for (const spec of config.controllers) {
    const r = configuredTid(kind, spec, { ignoreIface: config.ignoreIface, hostNqn: '' });
    if ('reason' in r)
      out.push(
        new ConfigWarning(
          spec.ref,
          `${where}: ${kind} will ignore this entry: ${r.reason}`,
          SEC_CONTROLLERS,
          'controller',
          'note',
        ),
      );
    const secret = spec.cid.find(([k]) => isSecretKey(k));
    const mode = modes.get(spec.ref.file);
    if (secret && mode !== undefined && (mode & 0o004) !== 0) {
      out.push(
        new ConfigWarning(
          spec.ref,
          `${where}: ${secret[0]} is written inline in a world-readable file (mode ${mode.toString(8).padStart(4, '0')}): any user can read it; chmod 600 the file`,
          SEC_CONTROLLERS,
          secret[0],
          'note',
        ),
      );
    }
  }
  return out;
}

/** One warning per unknown section and per unknown option, at its first occurrence. */
/** [Volumes], [Volumes <pool>] and [Schedule <name>] in stacd.conf belong to the storage layer. */
export const STACD_STORAGE_SECTION = /^(Volumes( .+)?|Schedule .+)$/;

function validateStructure(kind: ServiceKind, doc: IniDocument): ConfigWarning[] {
  const { sections, options } = validOptions(kind);
  const out: ConfigWarning[] = [];
  for (const sec of doc.sections.values()) {
    // stacd's storage sections are validated by their own parsers (daemons/volumes, daemons/schedules)
    if (kind === 'stacd' && STACD_STORAGE_SECTION.test(sec.name)) continue;
    if (!sections.has(sec.name)) {
      const near = [...sections].find((s) => s.toLowerCase() === sec.name.trim().toLowerCase());
      const hint = near ? ` (section names are case-sensitive: did you mean [${near}]?)` : '';
      out.push(
        new ConfigWarning(
          sec.ref,
          `unknown section [${echo(sec.name)}] for ${kind}${hint}; its options are not used`,
          sec.name,
          undefined,
          'note',
        ),
      );
      continue;
    }
    for (const opt of sec.options.values()) {
      const key = `${sec.name}/${opt.name}`;
      if (options.has(key)) continue;
      const legacy = LEGACY_HINTS[key];
      const still = isOptionKey(key) ? '; flagged as nvme-stas does, its value is still read' : '';
      out.push(
        new ConfigWarning(
          opt.ref,
          `[${sec.name}] ${echo(opt.name)}: unknown option for ${kind}${legacy ? ` (${legacy})` : ''}${still}`,
          sec.name,
          opt.name,
          'note',
        ),
      );
    }
  }
  return out;
}

/** Reads and validates a daemon configuration file. Throws ConfigError when a file exists but cannot be read. */
export function loadServiceConfig(
  kind: ServiceKind,
  path: string,
): { config: ServiceConfig; warnings: ConfigWarning[] } {
  return ServiceConfig.fromFiles(kind, path, readConfigFiles(path));
}

export async function loadServiceConfigAsync(
  kind: ServiceKind,
  path: string,
): Promise<{ config: ServiceConfig; warnings: ConfigWarning[] }> {
  return ServiceConfig.fromFiles(kind, path, await readConfigFilesAsync(path));
}

/** Default configuration file of a daemon, honouring STAS_ETC (replaces `/etc`, for tests). */
export function defaultConfPath(kind: ServiceKind): string {
  return `${process.env.STAS_ETC ?? '/etc'}/stas/${kind}.conf`;
}
