// Values from files and peers echoed into log lines and error texts: never whole. A 50 MB `kato=` value or a
// 4 KiB NQN from a hostile DC would otherwise be copied into every line that names it.

/** Longest echoed value, in characters, before `echoValue` cuts it. */
export const ECHO_MAX_CHARS = 80;

/**
 * `value` as it may appear in a log line: at most `max` characters, control characters shown as escapes, and a
 * cut value says how long it really was (`abc… (52428800 characters)`).
 */
export function echoValue(value: string, max = ECHO_MAX_CHARS): string {
  const cut = value.length > max;
  let head = '';
  for (const ch of cut ? value.slice(0, max) : value) {
    const c = ch.charCodeAt(0);
    head += c < 0x20 || c === 0x7f ? `\\x${c.toString(16).padStart(2, '0')}` : ch;
  }
  return cut ? `${head}… (${value.length} characters)` : head;
}
