// `controller=` and `exclude=` lines (§3.4, §3.5): tokenizer, per-controller [Global] overrides, configured-entry
// filters, and connect-parameter resolution with the kernel option names.
import { ConfigWarning, echo, type SourceRef } from './errors.js';
import type { IniValue } from './ini.js';
import {
  checkText,
  describeValue,
  fallbackValue,
  isOptionKey,
  OPTION_SPECS,
  SEC_CONTROLLERS,
  type OptionKey,
  type ServiceKind,
} from './options.js';
import { TID, WELL_KNOWN_DISC_NQN, type Cid, type CidValue, type TidContext } from '../common/tid.js';
import type { ExcludeEntry } from '../common/exclude.js';
import { canonicalKey, redactSecrets } from '../common/secrets.js';

/** One configured controller (a `controller=` value). */
export interface ControllerSpec {
  /** tokenized dict: nqn renamed to subsysnqn, [Global] overrides converted */
  readonly cid: Cid;
  readonly ref: SourceRef;
}

/** One `exclude=` value. */
export interface ExcludeSpec {
  readonly entry: ExcludeEntry;
  readonly ref: SourceRef;
}

export { redactSecrets };

/**
 * nvme-stas's tokenizer: `;`-separated tokens (spaces around `;` ignored), each exactly `key=value` (spaces around
 * `=` ignored). A token with no `=` or more than one is dropped, with a warning here. Repeated keys: last value wins,
 * first position kept (Python dict).
 */
export function tokenizeControllerText(
  text: string,
  ref: SourceRef,
  where: string,
  warnings: ConfigWarning[],
): Map<string, string> {
  const out = new Map<string, string>();
  for (const token of text.split(/\s*;\s*/)) {
    if (token === '') continue;
    const parts = token.split(/\s*=\s*/);
    if (parts.length !== 2) {
      const shown = echo(redactSecrets(token));
      const why = parts.length < 2 ? 'has no "="' : 'has more than one "="';
      const hint = /^\s*dhchap[-_]/i.test(token)
        ? ' (a secret containing "=" cannot be given on a controller= line)'
        : '';
      warnings.push(new ConfigWarning(ref, `${where}: token "${shown}" ${why}; dropped${hint}`, SEC_CONTROLLERS));
      continue;
    }
    // `DHCHAP_Secret` and `dhchap-secret` are one key (stas; nvme-stas matches keys exactly)
    const key = canonicalKey(parts[0]);
    if (key === '')
      warnings.push(
        new ConfigWarning(ref, `${where}: token "${echo(redactSecrets(token))}" has an empty key`, SEC_CONTROLLERS),
      );
    out.set(key, parts[1].trim());
  }
  return out;
}

function renameNqn(m: Map<string, CidValue>): void {
  if (m.has('nqn')) {
    const v = m.get('nqn') as CidValue;
    m.delete('nqn');
    m.set('subsysnqn', v); // nqn wins over an explicit subsysnqn, as in nvme-stas
  }
}

/** Parses one controller= value, validating [Global] overrides with the daemon's rules. */
export function parseControllerValue(kind: ServiceKind, value: IniValue, warnings: ConfigWarning[]): ControllerSpec {
  const where = `[${SEC_CONTROLLERS}] controller`;
  const m: Map<string, CidValue> = tokenizeControllerText(value.text, value.ref, where, warnings);
  renameNqn(m);
  for (const [k, v] of m) {
    const key = `Global/${k}`;
    if (!isOptionKey(key) || typeof v !== 'string') continue;
    const spec = OPTION_SPECS[key as OptionKey];
    const fallback = fallbackValue(kind, key as OptionKey);
    const fallbackText =
      fallback === null
        ? `keeping the text "${echo(v)}" unconverted (as nvme-stas does)`
        : `using [Global] default (${describeValue(fallback)})`;
    const r = checkText<unknown>(spec as never, v, fallback, value.ref, warnings, `${where}: ${k}`, fallbackText);
    if (r.ok) m.set(k, r.value as CidValue);
    else if (fallback !== null) m.set(k, fallback as CidValue);
  }
  return { cid: [...m.entries()], ref: value.ref };
}

/** Parses one exclude= value: host-traddr is removed, nqn renamed; values stay text. */
export function parseExcludeValue(value: IniValue, warnings: ConfigWarning[]): ExcludeSpec {
  const where = `[${SEC_CONTROLLERS}] exclude`;
  if (value.blankBefore) {
    warnings.push(
      new ConfigWarning(
        value.ref,
        `${where}: blank line(s) before this value: nvme-stas would read them as an empty exclude= entry that excludes ` +
          'every controller; stas ignores blank lines (put a comment line or nothing between exclude= lines)',
        SEC_CONTROLLERS,
        'exclude',
        'note',
      ),
    );
  }
  if (value.text === '') {
    warnings.push(
      new ConfigWarning(
        value.ref,
        `${where}: an empty exclude= entry excludes every controller`,
        SEC_CONTROLLERS,
        'exclude',
        'note',
      ),
    );
  }
  const m: Map<string, CidValue> = tokenizeControllerText(value.text, value.ref, where, warnings);
  m.delete('host-traddr');
  renameNqn(m);
  return { entry: [...m.entries()].map(([k, v]) => [k, String(v)] as const), ref: value.ref };
}

/**
 * The TID of a configured controller. stafd defaults a missing subsysnqn to the well-known discovery NQN.
 * Returns the reason instead when the daemon drops the entry (as nvme-stas does, silently: here the caller may log).
 */
export function configuredTid(
  kind: ServiceKind,
  spec: ControllerSpec,
  ctx: TidContext,
): { tid: TID } | { reason: string } {
  let cid = spec.cid;
  if (kind === 'stafd' && !cid.some(([k, v]) => k === 'subsysnqn' && v !== '')) {
    cid = [...cid.filter(([k]) => k !== 'subsysnqn'), ['subsysnqn', WELL_KNOWN_DISC_NQN]];
  }
  const tid = TID.fromCid(cid, ctx);
  const missing = ['transport', 'traddr', 'trsvcid', ...(kind === 'stacd' ? ['subsysnqn'] : [])].filter(
    (f) => (tid as unknown as Record<string, string>)[f] === '',
  );
  if (missing.length > 0) {
    const fc =
      tid.transport === 'fc' || tid.transport === 'loop'
        ? ' (fc/loop entries have no trsvcid: nvme-stas drops them)'
        : '';
    return { reason: `${missing.join(', ')} missing${fc}` };
  }
  return { tid };
}

/** Connect parameters: stas option name -> kernel/libnvme option name, in the order they are resolved. */
export const CONNECT_OPTIONS: ReadonlyArray<readonly [option: string, kernel: string]> = [
  ['hdr-digest', 'hdr_digest'],
  ['data-digest', 'data_digest'],
  ['nr-io-queues', 'nr_io_queues'],
  ['nr-write-queues', 'nr_write_queues'],
  ['nr-poll-queues', 'nr_poll_queues'],
  ['queue-size', 'queue_size'],
  ['kato', 'keep_alive_tmo'],
  ['reconnect-delay', 'reconnect_delay'],
  ['ctrl-loss-tmo', 'ctrl_loss_tmo'],
  ['disable-sqflow', 'disable_sqflow'],
];

export interface ConnectParam {
  readonly option: string;
  readonly kernel: string;
  /** converted value; a string only when an invalid override was kept raw (nvme-stas quirk) */
  readonly value: number | boolean | string;
}

/** Reads the resolved [Global] value of a connect option (file value or daemon default; null = not set). */
export type GlobalLookup = (option: string) => number | boolean | null;

/**
 * Per key: controller override if present, else [Global] value if set (or the daemon default); unset keys are
 * omitted. DLPE-learned controllers pass an empty bag (they only get [Global] values).
 */
export function resolveConnectParams(global: GlobalLookup, bag: ReadonlyMap<string, CidValue>): ConnectParam[] {
  const out: ConnectParam[] = [];
  for (const [option, kernel] of CONNECT_OPTIONS) {
    const o = bag.get(option);
    const value = o !== undefined && !Array.isArray(o) ? (o as number | boolean | string) : global(option);
    if (value !== null && value !== undefined) out.push({ option, kernel, value });
  }
  return out;
}
