// Key names of controller= entries, and which of them are secrets. One place for the rule "case-insensitive, `_`
// and `-` equivalent" (nvme-cli and the kernel write dhchap_secret, nvme-stas dhchap-secret) so that redaction,
// the config bag and the caches can never disagree about what a secret is.

/** Canonical spelling of a controller= key: trimmed, lower case, `_` → `-` (`DHCHAP_Secret` → `dhchap-secret`). */
export function canonicalKey(key: string): string {
  return key.trim().toLowerCase().replace(/_/g, '-');
}

/** Canonical names of the keys that are never shown on D-Bus, in a log line or in a cache file. */
export const SECRET_KEYS: ReadonlySet<string> = new Set(['dhchap-secret', 'dhchap-ctrl-secret']);

/** True for a secret key in any spelling (`DHCHAP-SECRET`, `dhchap_ctrl_secret`, ...). */
export function isSecretKey(key: string): boolean {
  return SECRET_KEYS.has(canonicalKey(key));
}

const SECRET_TOKEN_RE = /(dhchap[-_](?:ctrl[-_])?secret\s*=\s*)[^;"']*/gi;

/** Masks dhchap secrets (any spelling) in raw controller= text before it goes to a log line or a warning. */
export function redactSecrets(text: string): string {
  return text.replace(SECRET_TOKEN_RE, '$1<redacted>');
}

/** A copy of `value` with every secret-named property (any depth, any spelling) replaced by `<redacted>`. */
export function redactObject(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactSecrets(value);
  if (value === null || typeof value !== 'object' || depth > 8) return value;
  if (Array.isArray(value)) {
    // [key, value] pairs (Cid) as well as plain lists
    if (value.length === 2 && typeof value[0] === 'string' && isSecretKey(value[0])) return [value[0], '<redacted>'];
    return value.map((v) => redactObject(v, depth + 1));
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return value; // Errors, class instances: their own serialisers
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>))
    out[k] = isSecretKey(k) ? '<redacted>' : redactObject(v, depth + 1);
  return out;
}
