// stasadm's logic as a library: host NQN/ID generation and saving [Host] keys in sys.conf (§2.4).
// Improvement over nvme-stas (documented): sys.conf is edited in place (comments and layout kept, only the affected
// key lines change) instead of being re-emitted by configparser, and every write is atomic (tmp + fsync + rename).
import { createHmac, randomUUID } from 'node:crypto';
import { CONFIG_FILE_MAX_BYTES, readFileBoundedSync } from '../common/bounded-read.js';
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { etcRoot } from './sys-config.js';

export const NQN_UUID_PREFIX = 'nqn.2014-08.org.nvmexpress:uuid:';
/** systemd "app-specific machine id" application key used by nvme-stas/nvme-cli */
export const NVME_APP_ID = '$nvmexpress.org$';

export class RootRequiredError extends Error {
  override readonly name = 'RootRequiredError';
  constructor() {
    super('Permission denied. Root privileges required.');
  }
}

function formatUuid(hex: string): string {
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** HMAC-SHA256(key = "$nvmexpress.org$", data = the 16 machine-id bytes), first 16 bytes as a v4 UUID. */
export function machineAppSpecificUuid(machineId: string): string {
  const id = machineId.slice(0, 32);
  if (!/^[0-9a-fA-F]{32}$/.test(id)) throw new Error(`invalid machine-id "${machineId.trim()}"`);
  const d = createHmac('sha256', NVME_APP_ID).update(Buffer.from(id, 'hex')).digest().subarray(0, 16);
  d[6] = (d[6] & 0x0f) | 0x40; // version 4
  d[8] = (d[8] & 0x3f) | 0x80; // RFC 4122 variant
  return formatUuid(d.toString('hex'));
}

/** SMBIOS stores the first three UUID groups little-endian: swap them to network order. */
export function dmiUuidToNetworkOrder(uuid: string): string {
  const swap = (s: string): string => (s.match(/../g) ?? []).reverse().join('');
  const [a, b, c, ...rest] = uuid.split('-');
  return [swap(a), swap(b), swap(c), ...rest].join('-');
}

export interface UuidSources {
  readonly machineIdPath?: string;
  readonly dmiProductUuidPath?: string;
  readonly deviceTreeUuidPath?: string;
  /** effective uid (tests); default process.geteuid() */
  readonly euid?: number;
}

function readIf(path: string): string | undefined {
  try {
    return readFileBoundedSync(path, CONFIG_FILE_MAX_BYTES);
  } catch {
    return undefined;
  }
}

/**
 * The UUID for a host NQN, first that works: machine-id derivation; then (root only) DMI product_uuid, the
 * device-tree partition UUID; then random.
 */
export function hostNqnUuid(src: UuidSources = {}): string {
  const mid = readIf(src.machineIdPath ?? `${etcRoot()}/machine-id`)?.trim();
  if (mid && mid.length >= 32 && /^[0-9a-fA-F]{32}/.test(mid)) return machineAppSpecificUuid(mid);

  const euid = src.euid ?? process.geteuid?.() ?? 0;
  if (euid !== 0) throw new RootRequiredError();
  const dmi = readIf(src.dmiProductUuidPath ?? '/sys/class/dmi/id/product_uuid')?.trim();
  if (dmi && dmi.length === 36) return dmiUuidToNetworkOrder(dmi).toLowerCase();
  const dt = readIf(src.deviceTreeUuidPath ?? '/proc/device-tree/ibm,partition-uuid')
    ?.replace(/\0+$/, '')
    .trim();
  if (dt && dt.length === 36) return dt;
  return randomUUID();
}

export function generateHostNqn(src: UuidSources = {}): string {
  return `${NQN_UUID_PREFIX}${hostNqnUuid(src)}`;
}

/** Host IDs are random (not machine-derived), as in nvme-stas. */
export function generateHostId(): string {
  return randomUUID();
}

/** Writes a file atomically: temporary file in the same folder, fsync, rename, fsync the folder. */
export function writeFileAtomic(path: string, data: string, mode?: number): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  let m = mode;
  if (m === undefined) {
    try {
      m = statSync(path).mode & 0o7777;
    } catch {
      m = 0o644;
    }
  }
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const fd = openSync(tmp, 'wx', m);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    unlinkSync(tmp);
    throw e;
  }
  closeSync(fd);
  try {
    renameSync(tmp, path);
  } catch (e) {
    unlinkSync(tmp);
    throw e;
  }
  try {
    const dfd = openSync(dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    // some filesystems refuse fsync on a directory; the rename itself is still atomic
  }
}

interface LineInfo {
  section: string | undefined;
  /** lower-cased option name for option lines and their continuation lines */
  option: string | undefined;
  kind: 'blank' | 'comment' | 'section' | 'option' | 'continuation' | 'other';
}

/** Classifies lines with the reader's rules (ini.ts): comments, sections, option lines, continuations. */
function classify(lines: string[]): LineInfo[] {
  let section: string | undefined;
  let option: string | undefined;
  let indentLevel = 0;
  return lines.map((raw): LineInfo => {
    const s = raw.trim();
    if (s === '') return { section, option: undefined, kind: 'blank' };
    if (s.startsWith('#') || s.startsWith(';')) return { section, option: undefined, kind: 'comment' };
    const indent = raw.search(/\S/);
    if (option !== undefined && indent > indentLevel) return { section, option, kind: 'continuation' };
    indentLevel = indent;
    const sm = /^\[(.+)\]/.exec(s);
    if (sm) {
      section = sm[1];
      option = undefined;
      return { section, option: undefined, kind: 'section' };
    }
    const eq = s.indexOf('=');
    const name = (eq >= 0 ? s.slice(0, eq) : s).trimEnd().toLowerCase();
    if (section === undefined || eq < 0 || name === '') {
      option = undefined;
      return { section, option: undefined, kind: 'other' };
    }
    option = name;
    return { section, option, kind: 'option' };
  });
}

/**
 * Returns sys.conf text with `[Host] key = value` set (value null: key removed). Other lines are kept verbatim;
 * all earlier occurrences of the key are removed so that exactly one remains. [Host] is created if missing.
 */
export function editHostOption(text: string, key: string, value: string | null): string {
  if (value !== null && /[\r\n]/.test(value)) throw new Error(`value for "${key}" must be a single line`);
  const lines = text === '' ? [] : text.replace(/\r\n?/g, '\n').replace(/\n$/, '').split('\n');
  const info = classify(lines);
  const k = key.toLowerCase();
  const isKeyLine = (i: number): boolean =>
    info[i].section === 'Host' &&
    info[i].option === k &&
    (info[i].kind === 'option' || info[i].kind === 'continuation');
  const lastOption = [...info.keys()].filter((i) => isKeyLine(i) && info[i].kind === 'option').pop();
  const newLine = value === null ? undefined : `${key} = ${value}`;

  const out: string[] = [];
  let inserted = false;
  let lastHostContent = -1; // index in `out` after which a new key goes (last option/continuation/header of [Host])
  lines.forEach((line, i) => {
    if (isKeyLine(i)) {
      if (i === lastOption && newLine !== undefined) {
        out.push(newLine);
        inserted = true;
        lastHostContent = out.length - 1;
      }
      return;
    }
    out.push(line);
    if (info[i].section === 'Host' && ['section', 'option', 'continuation', 'other'].includes(info[i].kind)) {
      lastHostContent = out.length - 1;
    }
  });
  if (!inserted) {
    if (lastHostContent >= 0) {
      if (newLine !== undefined) out.splice(lastHostContent + 1, 0, newLine);
    } else {
      if (out.length > 0 && out[out.length - 1].trim() !== '') out.push('');
      out.push('[Host]');
      if (newLine !== undefined) out.push(newLine);
      out.push(''); // configparser's writer leaves a blank line after each section
    }
  }
  return out.length === 0 ? '' : `${out.join('\n')}\n`;
}

function readText(path: string): string {
  try {
    return readFileBoundedSync(path, CONFIG_FILE_MAX_BYTES);
  } catch (e) {
    if (typeof e === 'object' && e !== null && (e as { code?: unknown }).code === 'ENOENT') return '';
    throw e;
  }
}

/**
 * stasadm save semantics: without `file`, `[Host] key = value` in confFile; with `file`, value + newline is written
 * to that file and `key = file://FILE` goes into confFile.
 */
export function saveHostOption(confFile: string, key: string, value: string, file?: string): void {
  let v = value;
  if (file !== undefined && file !== '') {
    writeFileAtomic(file, `${value}\n`);
    v = `file://${file}`;
  }
  writeFileAtomic(confFile, editHostOption(readText(confFile), key, v));
}

/** Removes `[Host] key` (the section stays). */
export function clearHostOption(confFile: string, key: string): void {
  writeFileAtomic(confFile, editHostOption(readText(confFile), key, null));
}
