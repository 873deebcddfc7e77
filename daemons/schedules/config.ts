// Reads `[Schedule <name>]` sections of stacd.conf and its drop-ins with the configuration layer's INI reader
// (daemons/config/ini.ts: nvme-stas's syntax, `=` only, indented continuation lines), so that a schedule
// section means what the rest of the file means. A later file overrides single settings of an earlier one;
// other sections belong to the config module. A broken schedule is reported and left out; it never stops
// the others from loading.
import { IniDocument, parseIniText } from '../config/ini.js';
import { formatRef, type SourceRef } from '../config/errors.js';
import { ScheduleError } from './errors.js';
import { parseSchedule, type ScheduleDef, type SettingEntry } from './schedule-def.js';

interface ScheduleSection {
  name: string;
  /** first header */
  ref: SourceRef;
  entries: (SettingEntry & { ref: SourceRef })[];
  /** what is not one `key = value` line, in file order */
  malformed: { ref: SourceRef; field?: string; detail: string }[];
}

/** `[Schedule nightly]`, `[schedule "nightly"]`: the keyword in any case, the name optionally quoted. */
const SECTION_RE = /^\s*Schedule\s+(.*?)\s*$/i;

export interface LoadedSchedules {
  schedules: ScheduleDef[];
  errors: ScheduleError[];
}

/** The schedules of a parsed configuration (sections merged by schedule name, files in order). */
export function schedulesFromIni(doc: IniDocument): LoadedSchedules {
  const fileIndex = (ref: SourceRef): number => doc.files.indexOf(ref.file);
  const before = (a: SourceRef, b: SourceRef): number => fileIndex(a) - fileIndex(b) || a.line - b.line;
  const merged = new Map<string, ScheduleSection>();
  const byHeader = new Map<string, ScheduleSection>(); // the INI section name -> its schedule
  for (const section of doc.sections.values()) {
    const m = SECTION_RE.exec(section.name);
    if (!m) continue;
    const name = m[1]!.replace(/^"(.*)"$/, '$1');
    let s = merged.get(name);
    if (!s) merged.set(name, (s = { name, ref: section.ref, entries: [], malformed: [] }));
    else if (before(section.ref, s.ref) < 0) s.ref = section.ref;
    byHeader.set(section.name, s);
    for (const option of section.options.values()) {
      for (const v of option.values) {
        if (v.continuation)
          s.malformed.push({
            ref: v.ref,
            field: option.name,
            detail: 'continues on an indented line; a schedule setting is one line',
          });
        else s.entries.push({ key: option.name, value: v.text, where: formatRef(v.ref), ref: v.ref });
      }
    }
  }
  // the reader's syntax findings inside a schedule section (a line without "=", an empty key, ...)
  for (const issue of doc.issues) {
    const s = issue.section === undefined ? undefined : byHeader.get(issue.section);
    if (s) s.malformed.push({ ref: issue.ref, detail: 'expected key=value' });
  }
  const schedules: ScheduleDef[] = [];
  const errors: ScheduleError[] = [];
  for (const s of merged.values()) {
    try {
      const bad = s.malformed.sort((a, b) => before(a.ref, b.ref))[0];
      if (bad) throw new ScheduleError(s.name, bad.field, bad.detail, formatRef(bad.ref));
      const entries = s.entries.sort((a, b) => before(a.ref, b.ref));
      schedules.push(parseSchedule(s.name, entries, { kind: 'config', file: s.ref.file, line: s.ref.line }));
    } catch (e) {
      if (e instanceof ScheduleError) errors.push(e);
      else throw e;
    }
  }
  return { schedules, errors };
}

/** The schedules of configuration texts (main file first, then drop-ins, as readConfigFiles returns them). */
export function schedulesFromTexts(texts: readonly { path: string; text: string }[]): LoadedSchedules {
  const doc = new IniDocument();
  for (const t of texts) parseIniText(doc, t.text, t.path);
  return schedulesFromIni(doc);
}
