// Reads `[Schedule <name>]` sections from stacd.conf and its drop-ins (stacd.conf.d/*.conf, in name order;
// a later file overrides single settings of an earlier one). Other sections belong to the config module and
// are ignored here. A broken schedule is reported and left out; it never stops the others from loading.
import { readdirSync, existsSync } from 'node:fs';
import { CONFIG_FILE_MAX_BYTES, readFileBoundedSync } from '../common/bounded-read.js';
import { join } from 'node:path';
import { ScheduleError } from './errors.js';
import { parseSchedule, type ScheduleDef, type SettingEntry } from './schedule-def.js';

export interface ScheduleSection {
  name: string;
  file: string;
  line: number;
  entries: SettingEntry[];
  /** lines that are not key=value, as "file:line" */
  malformed: string[];
}

const SECTION_RE = /^\[\s*Schedule\s+(.*?)\s*\]$/i;

/** The `[Schedule …]` sections of one file's text, in order (configparser syntax: key=value or key: value). */
export function scheduleSectionsOf(text: string, file: string): ScheduleSection[] {
  const out: ScheduleSection[] = [];
  let current: ScheduleSection | undefined;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    if (line.startsWith('[')) {
      const m = SECTION_RE.exec(line);
      current = m
        ? { name: m[1]!.replace(/^"(.*)"$/, '$1'), file, line: i + 1, entries: [], malformed: [] }
        : undefined;
      if (current) out.push(current);
      continue;
    }
    if (!current) continue;
    const sep = /[=:]/.exec(line);
    if (!sep) {
      current.malformed.push(`${file}:${i + 1}`);
      continue;
    }
    current.entries.push({
      key: line.slice(0, sep.index).trim(),
      value: line.slice(sep.index + 1).trim(),
      where: `${file}:${i + 1}`,
    });
  }
  return out;
}

/** stacd.conf followed by stacd.conf.d/*.conf in name order. */
export function configFiles(mainFile: string): string[] {
  const files = existsSync(mainFile) ? [mainFile] : [];
  const dir = `${mainFile}.d`;
  if (existsSync(dir)) {
    for (const f of readdirSync(dir)
      .filter((n) => n.endsWith('.conf'))
      .sort())
      files.push(join(dir, f));
  }
  return files;
}

export interface LoadedSchedules {
  schedules: ScheduleDef[];
  errors: ScheduleError[];
}

/** Parses the schedule sections of the given texts (merged by schedule name, in order). */
export function schedulesFromTexts(texts: readonly { file: string; text: string }[]): LoadedSchedules {
  const merged = new Map<string, ScheduleSection>();
  for (const { file, text } of texts) {
    for (const s of scheduleSectionsOf(text, file)) {
      const prev = merged.get(s.name);
      if (prev) {
        prev.entries.push(...s.entries);
        prev.malformed.push(...s.malformed);
      } else merged.set(s.name, s);
    }
  }
  const schedules: ScheduleDef[] = [];
  const errors: ScheduleError[] = [];
  for (const s of merged.values()) {
    try {
      if (s.malformed.length > 0) throw new ScheduleError(s.name, undefined, 'expected key=value', s.malformed[0]);
      schedules.push(parseSchedule(s.name, s.entries, { kind: 'config', file: s.file, line: s.line }));
    } catch (e) {
      if (e instanceof ScheduleError) errors.push(e);
      else throw e;
    }
  }
  return { schedules, errors };
}

/** Loads schedules from stacd.conf and its drop-in directory. Unreadable files are reported as errors. */
export function loadScheduleConfig(mainFile: string): LoadedSchedules {
  const texts: { file: string; text: string }[] = [];
  const errors: ScheduleError[] = [];
  for (const file of configFiles(mainFile)) {
    try {
      texts.push({ file, text: readFileBoundedSync(file, CONFIG_FILE_MAX_BYTES) });
    } catch (e) {
      errors.push(new ScheduleError('*', undefined, `cannot read: ${(e as Error).message}`, file));
    }
  }
  const loaded = schedulesFromTexts(texts);
  return { schedules: loaded.schedules, errors: [...errors, ...loaded.errors] };
}
