// A small INI reader with the semantics nvme-stas gets from Python's configparser
// (ConfigParser(default_section=None, allow_no_value=True, delimiters=('='), interpolation=None, strict=False)
// plus its "OrderedMultisetDict" that keeps repeated keys as a list):
//   * `=` is the only delimiter; no interpolation; no [DEFAULT] inheritance;
//   * option names are lower-cased, section names are case-sensitive, duplicate sections merge;
//   * whole-line comments start with `#` or `;` after optional indentation; there are NO inline comments;
//   * a line indented deeper than the option line that started the value is a continuation: one more value;
//   * every option is a list of values in file order, each with its file and line.
// Deliberate differences (each one reported as a warning, none changes a valid file's meaning):
//   * a key without `=`, an empty key (`= x`) or an option before any section header is skipped with a warning
//     (configparser stores None and nvme-stas later crashes, or raises at the end of the file);
//   * a blank line inside a value does not become an empty value (configparser inserts '' between two occurrences
//     separated by a blank line; for `exclude=` that empty entry would exclude everything). Such values carry
//     `blankBefore` so the exclude layer can say so.
// The `ini` npm package is not used: it treats `;`/`#` inside values as comments, which breaks `controller=` lines.
import { ConfigWarning, echo, type SourceRef } from './errors.js';

export interface IniValue {
  readonly text: string;
  readonly ref: SourceRef;
  /** came from an indented continuation line rather than a `key = value` line */
  readonly continuation: boolean;
  /** configparser would have inserted an empty value before this one (blank line(s) since the previous value) */
  readonly blankBefore: boolean;
}

export interface IniOption {
  /** lower-cased name */
  readonly name: string;
  /** first occurrence */
  readonly ref: SourceRef;
  readonly values: IniValue[];
}

export interface IniSection {
  readonly name: string;
  /** first header */
  readonly ref: SourceRef;
  readonly options: Map<string, IniOption>;
}

/** The merged content of one or more INI files (main file first, then drop-ins). */
export class IniDocument {
  readonly sections = new Map<string, IniSection>();
  /** syntax findings (bare keys, lines outside sections, ...) */
  readonly issues: ConfigWarning[] = [];
  /** files that were actually read, in order */
  readonly files: string[] = [];

  /** All values of an option, in file order ([] when absent). */
  values(section: string, option: string): IniValue[] {
    return this.sections.get(section)?.options.get(option.toLowerCase())?.values ?? [];
  }

  /** Last value (scalar semantics of nvme-stas), or undefined when the option is absent. */
  last(section: string, option: string): IniValue | undefined {
    const v = this.values(section, option);
    return v.length > 0 ? v[v.length - 1] : undefined;
  }

  /**
   * Plain configparser semantics (used for sys.conf): the last `key = value` line wins and its continuation lines
   * are joined to it with newlines.
   */
  lastJoined(section: string, option: string): IniValue | undefined {
    const v = this.values(section, option);
    let start = -1;
    for (let i = v.length - 1; i >= 0; i--) {
      if (!v[i].continuation) {
        start = i;
        break;
      }
    }
    if (start < 0) return undefined;
    const head = v[start];
    const text = v
      .slice(start)
      .map((x) => x.text)
      .join('\n');
    return { ...head, text };
  }
}

const SECTION_RE = /^\[(.+)\]/; // as permissive as configparser: `[Global] junk` is section "Global"
const OPTION_RE = /^(.*?)\s*(?:(=)\s*(.*))?$/;

/** Parses one file's text into doc (merging with what is already there). */
export function parseIniText(doc: IniDocument, text: string, file: string): void {
  doc.files.push(file);
  const lines = text.split(/\r\n|\r|\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();

  let section: IniSection | undefined;
  let sectionName: string | undefined; // set even when the section line is skipped, to keep indentation rules
  let option: IniOption | undefined; // the option a continuation line would extend
  let skippingValue = false; // continuation lines of a skipped (bare/empty/sectionless) key are skipped too
  let indentLevel = 0;
  // options that received a blank line since their last value in this file (configparser's '' entries; the ones
  // still pending at the end of the file are dropped by configparser's final rstrip, and so here)
  const pendingBlank = new Set<IniOption>();

  const warn = (line: number, message: string): void => {
    doc.issues.push(new ConfigWarning({ file, line }, message, sectionName));
  };

  lines.forEach((raw, idx) => {
    const lineNo = idx + 1;
    const stripped = raw.trim();
    if (stripped.startsWith('#') || stripped.startsWith(';')) return; // whole-line comment; indentation unaffected
    if (stripped === '') {
      if (option) pendingBlank.add(option);
      return;
    }
    const indent = raw.search(/\S/);
    const haveValue = option !== undefined || skippingValue;
    if (haveValue && indent > indentLevel) {
      // continuation line
      if (option) {
        option.values.push({
          text: stripped,
          ref: { file, line: lineNo },
          continuation: true,
          blankBefore: pendingBlank.has(option),
        });
        pendingBlank.delete(option);
      } else {
        warn(lineNo, `continuation line "${echo(stripped)}" follows a line that was skipped; skipped too`);
      }
      return;
    }
    indentLevel = indent;
    option = undefined;
    skippingValue = false;

    const sm = SECTION_RE.exec(stripped);
    if (sm) {
      sectionName = sm[1];
      section = doc.sections.get(sectionName);
      if (!section) {
        section = { name: sectionName, ref: { file, line: lineNo }, options: new Map() };
        doc.sections.set(sectionName, section);
      }
      return;
    }
    if (!section) {
      warn(lineNo, `"${echo(stripped)}" appears before any [section] header; ignored`);
      skippingValue = true;
      return;
    }
    const om = OPTION_RE.exec(stripped);
    const name = (om?.[1] ?? '').trimEnd().toLowerCase();
    if (!om || name === '') {
      warn(lineNo, `[${section.name}] line "${echo(stripped)}" has no option name before "="; ignored`);
      skippingValue = true;
      return;
    }
    if (om[2] === undefined) {
      warn(lineNo, `[${section.name}] "${echo(name)}" has no "=" and no value; ignored`);
      skippingValue = true;
      return;
    }
    let opt = section.options.get(name);
    if (!opt) {
      opt = { name, ref: { file, line: lineNo }, values: [] };
      section.options.set(name, opt);
    }
    opt.values.push({
      text: (om[3] ?? '').trim(),
      ref: { file, line: lineNo },
      continuation: false,
      blankBefore: pendingBlank.has(opt),
    });
    pendingBlank.delete(opt);
    option = opt;
  });
}

/** Convenience for tests and small callers. */
export function parseIni(text: string, file = '<string>'): IniDocument {
  const doc = new IniDocument();
  parseIniText(doc, text, file);
  return doc;
}
