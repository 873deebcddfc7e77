// SIGHUP support: re-read a daemon's configuration without ever losing the running one, and say what changed.
import { ConfigError, type ConfigWarning } from './errors.js';
import { OPTION_SPECS, describeValue, type OptionKey } from './options.js';
import { redactSecrets } from './controllers.js';
import { loadServiceConfigAsync, type ServiceConfig } from './service-config.js';
import type { Cid } from '../common/tid.js';
import { pythonStr } from '../common/tid.js';
import { isSecretKey } from '../common/secrets.js';

export type ReloadResult =
  | {
      readonly ok: true;
      readonly config: ServiceConfig;
      readonly warnings: ConfigWarning[];
      readonly changes: string[];
    }
  | { readonly ok: false; readonly error: ConfigError };

/** Printable form of a controller/exclude entry with secrets masked: `transport=tcp;traddr=1.2.3.4;kato=17`. */
function entryText(cid: Cid | ReadonlyArray<readonly [string, string]>): string {
  return redactSecrets(cid.map(([k, v]) => `${k}=${isSecretKey(k) ? '<redacted>' : pythonStr(v)}`).join(';'));
}

function listDiff(name: string, before: string[], after: string[]): string[] {
  const out: string[] = [];
  const count = (l: string[]): Map<string, number> =>
    l.reduce((m, x) => m.set(x, (m.get(x) ?? 0) + 1), new Map<string, number>());
  const b = count(before);
  const a = count(after);
  for (const [x, n] of b) for (let i = a.get(x) ?? 0; i < n; i++) out.push(`[Controllers] ${name} removed: ${x}`);
  for (const [x, n] of a) for (let i = b.get(x) ?? 0; i < n; i++) out.push(`[Controllers] ${name} added: ${x}`);
  return out;
}

/** Human-readable changes between two configurations, e.g. `[Global] kato: 30 -> 17`. Secrets are never shown. */
export function describeChanges(before: ServiceConfig, after: ServiceConfig): string[] {
  const out: string[] = [];
  for (const key of Object.keys(OPTION_SPECS) as OptionKey[]) {
    const x = describeValue(before.get(key));
    const y = describeValue(after.get(key));
    if (x !== y) out.push(`[${OPTION_SPECS[key].section}] ${OPTION_SPECS[key].name}: ${x} -> ${y}`);
  }
  out.push(
    ...listDiff(
      'controller',
      before.controllers.map((c) => entryText(c.cid)),
      after.controllers.map((c) => entryText(c.cid)),
    ),
  );
  out.push(
    ...listDiff(
      'exclude',
      before.excludes.map((e) => entryText(e)),
      after.excludes.map((e) => entryText(e)),
    ),
  );
  return out;
}

/**
 * Re-reads `current`'s files. On a read error the result is `{ok: false}` and the caller keeps `current`
 * (and logs `error.message`, which names the file and the reason).
 */
export async function reloadServiceConfig(current: ServiceConfig): Promise<ReloadResult> {
  try {
    const { config, warnings } = await loadServiceConfigAsync(current.kind, current.path);
    return { ok: true, config, warnings, changes: describeChanges(current, config) };
  } catch (e) {
    if (e instanceof ConfigError) return { ok: false, error: e };
    throw e;
  }
}
