// How large a D-Bus reply can get before the bus daemon refuses it. dbus-daemon drops a connection that sends a
// message over its max_message_size (32 MiB unless the bus configuration says otherwise), and the sender sees only
// "write EPIPE": a reply that grows with peer input (a DC's log page, referrals) would take the daemon off the bus.
// So every reply is measured first (an upper bound computed from the signature, cheaper than marshalling) and one
// that would not fit is answered with a named error instead.

/** dbus-daemon's default max_message_size (bus/config-parser.c), used by Debian's system and our test bus. */
export const BUS_MAX_MESSAGE_BYTES = 32 * 1024 * 1024;
/** room for the reply's header (serials, sender, destination, signature: a few hundred bytes) */
const HEADER_ROOM_BYTES = 64 * 1024;
/** the largest reply body stas sends */
export const MAX_REPLY_BODY_BYTES = BUS_MAX_MESSAGE_BYTES - HEADER_ROOM_BYTES;

const FIXED: Readonly<Record<string, number>> = { y: 1, b: 4, n: 2, q: 2, i: 4, u: 4, h: 4, x: 8, t: 8, d: 8 };

/** Splits a signature into complete types: `a{sv}s(ii)` → [`a{sv}`, `s`, `(ii)`]. */
export function completeTypes(sig: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < sig.length) {
    const start = i;
    i = typeEnd(sig, i);
    out.push(sig.slice(start, i));
  }
  return out;
}

function typeEnd(sig: string, i: number): number {
  const c = sig[i];
  if (c === 'a') return typeEnd(sig, i + 1);
  if (c === '(' || c === '{') {
    const close = c === '(' ? ')' : '}';
    let j = i + 1;
    while (j < sig.length && sig[j] !== close) j = typeEnd(sig, j);
    if (j >= sig.length) throw new Error(`unbalanced D-Bus signature "${sig}"`);
    return j + 1;
  }
  if (c === undefined) throw new Error(`truncated D-Bus signature "${sig}"`);
  return i + 1;
}

const strBytes = (v: unknown): number => Buffer.byteLength(typeof v === 'string' ? v : String(v ?? ''), 'utf8');

/**
 * An upper bound of the marshalled size of `value` with the single complete type `sig` (every alignment padding
 * counted at its maximum), as dbus-next marshals JavaScript values: arrays for `a`/`()`, objects or Maps for `a{}`,
 * `{signature, value}` for `v`.
 */
export function wireSizeBound(sig: string, value: unknown): number {
  const c = sig[0]!;
  const fixed = FIXED[c];
  if (fixed !== undefined) return 2 * fixed - 1;
  if (c === 's' || c === 'o') return 3 + 4 + strBytes(value) + 1;
  if (c === 'g') return 1 + strBytes(value) + 1;
  if (c === 'v') {
    const v = value as { signature?: string; value?: unknown };
    const inner = v?.signature ?? '';
    return 1 + strBytes(inner) + 1 + (inner ? wireSizeBound(inner, v.value) : 0);
  }
  if (c === '(') {
    const fields = completeTypes(sig.slice(1, -1));
    const vals = Array.isArray(value) ? value : [];
    return 7 + fields.reduce((n, f, k) => n + wireSizeBound(f, vals[k]), 0);
  }
  if (c === 'a') {
    const elem = sig.slice(1);
    let n = 3 + 4 + 7;
    if (elem[0] === '{') {
      const [kt, vt] = completeTypes(elem.slice(1, -1)) as [string, string];
      const entries: [unknown, unknown][] =
        value instanceof Map ? [...value.entries()] : Object.entries((value ?? {}) as object);
      for (const [k, v] of entries) n += 7 + wireSizeBound(kt, k) + wireSizeBound(vt, v);
      return n;
    }
    if (Buffer.isBuffer(value)) return n + value.length;
    if (Array.isArray(value)) for (const v of value) n += wireSizeBound(elem, v);
    return n;
  }
  throw new Error(`unknown D-Bus type "${c}" in "${sig}"`);
}

/** Upper bound of a method reply body with `outSignature`, given what the implementation returned. */
export function replyBodyBound(outSignature: string, result: unknown): number {
  const types = completeTypes(outSignature);
  if (types.length === 0) return 0;
  if (types.length === 1) return wireSizeBound(types[0]!, result);
  const vals = Array.isArray(result) ? result : [];
  return types.reduce((n, t, k) => n + wireSizeBound(t, vals[k]), 0);
}
