// Python-compatible text forms that nvme-stas clients see on the wire: json.dumps() with its default
// separators and ASCII escaping, repr() of dicts/strings/bools, and float repr.

export type PyValue = string | number | boolean | null | undefined | PyValue[] | { [k: string]: PyValue };

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

function jsonString(s: string): string {
  // printable ASCII (nearly every value): JSON.stringify escapes exactly " and \ there, as Python does, and is ~20x
  // faster than the loop below (a 90,000-entry log page is dumped in under a second)
  if (PRINTABLE_ASCII.test(s)) return JSON.stringify(s);
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (c < 0x20 || c > 0x7e) {
      // ensure_ascii: non-ASCII as \uXXXX, astral characters as surrogate pairs
      for (let i = 0; i < ch.length; i++) out += '\\u' + ch.charCodeAt(i).toString(16).padStart(4, '0');
    } else out += ch;
  }
  return out + '"';
}

/** Python json.dumps(obj) with default separators (", ", ": ") and ensure_ascii=True. */
export function jsonDumps(v: PyValue): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : v > 0 ? 'Infinity' : v < 0 ? '-Infinity' : 'NaN';
  if (typeof v === 'string') return jsonString(v);
  if (Array.isArray(v)) return '[' + v.map(jsonDumps).join(', ') + ']';
  return (
    '{' +
    Object.entries(v)
      .map(([k, x]) => `${jsonString(k)}: ${jsonDumps(x)}`)
      .join(', ') +
    '}'
  );
}

/** Python repr() of a str: single quotes unless the text contains ' and no ". */
export function pyStrRepr(s: string): string {
  const q = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = q;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === q) out += '\\' + q;
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20 || c === 0x7f) out += '\\x' + c.toString(16).padStart(2, '0');
    else out += ch;
  }
  return out + q;
}

/** Python repr() of a float: always has a fractional part or exponent (60 -> "60.0"). */
export function pyFloat(n: number): string {
  if (!Number.isFinite(n)) return n > 0 ? 'inf' : n < 0 ? '-inf' : 'nan';
  const s = String(n);
  return /[.e]/.test(s) ? s : s + '.0';
}

/** Python repr() of dicts/lists/str/bool/None/int as nvme-stas puts them inside string values. */
export function pyRepr(v: PyValue): string {
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return pyStrRepr(v);
  if (Array.isArray(v)) return '[' + v.map(pyRepr).join(', ') + ']';
  return (
    '{' +
    Object.entries(v)
      .map(([k, x]) => `${pyStrRepr(k)}: ${pyRepr(x)}`)
      .join(', ') +
    '}'
  );
}

/** Python str() of a value as nvme-stas applies it to dictionary values. */
export function pyStr(v: PyValue): string {
  if (typeof v === 'string') return v;
  return pyRepr(v);
}
