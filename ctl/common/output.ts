// Output for people (aligned tables, key/value blocks) and for scripts (--json, errors included).
import { CliError, EXIT } from './client.js';

export interface Column<T> {
  header: string;
  value: (row: T) => string;
  align?: 'left' | 'right';
}

export function table<T>(rows: T[], columns: Column<T>[]): string {
  const cells = rows.map((r) => columns.map((c) => c.value(r)));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((row) => row[i]!.length)));
  const fmt = (vals: string[]): string =>
    vals
      .map((v, i) => (columns[i]!.align === 'right' ? v.padStart(widths[i]!) : v.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [fmt(columns.map((c) => c.header)), ...cells.map(fmt)].join('\n');
}

/** "key: value" lines with aligned values; nested objects are indented. */
export function keyValues(obj: Record<string, unknown>, indent = ''): string {
  const keys = Object.keys(obj);
  const w = Math.max(0, ...keys.map((k) => k.length));
  const lines: string[] = [];
  for (const k of keys) {
    const v = obj[k];
    if (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0) {
      lines.push(`${indent}${(k + ':').padEnd(w + 1)} (none)`);
    } else if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      lines.push(`${indent}${k}:`);
      lines.push(keyValues(v as Record<string, unknown>, indent + '  '));
    } else if (Array.isArray(v)) {
      lines.push(`${indent}${(k + ':').padEnd(w + 1)} ${v.length === 0 ? '(none)' : v.map(String).join(', ')}`);
    } else {
      lines.push(`${indent}${(k + ':').padEnd(w + 1)} ${v === null || v === undefined ? '-' : String(v)}`);
    }
  }
  return lines.join('\n');
}

export function printJson(v: unknown): void {
  process.stdout.write(JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x), 2) + '\n');
}

/** Runs a command body; errors become one line on stderr (or a JSON object with --json) and an exit code. */
export async function runCommand(json: boolean | undefined, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (e) {
    const err = e instanceof CliError ? e : new CliError((e as Error)?.message ?? String(e), EXIT.FAILURE, 'error');
    if (json) printJson({ error: { kind: err.kind, message: err.message, exitCode: err.exitCode } });
    else process.stderr.write(`${err.message}\n`);
    process.exitCode = err.exitCode;
  }
}
