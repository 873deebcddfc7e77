// `exclude=` matching ("minimal match", nvme-stas stas._excluded): a controller is excluded when, for some exclude
// entry, every key/value of that entry equals the same key of the controller's dict. Comparison is exact and
// case-sensitive (`FE80::1` != `fe80::1`), and only text equals text (nvme-stas compares the raw exclude string with
// the controller's value, so `kato=17` never matches a kato converted to the number 17). An empty entry (an empty
// `exclude=` line) matches every controller.
import type { CidValue } from './tid.js';

/** One exclude= line after tokenizing: ordered key/value pairs (host-traddr already removed, nqn -> subsysnqn). */
export type ExcludeEntry = ReadonlyArray<readonly [string, string]>;

export function matchesExclude(entry: ExcludeEntry, controller: ReadonlyMap<string, CidValue>): boolean {
  return entry.every(([k, v]) => {
    const c = controller.get(k);
    return typeof c === 'string' && c === v;
  });
}

export function isExcluded(entries: readonly ExcludeEntry[], controller: ReadonlyMap<string, CidValue>): boolean {
  return entries.some((e) => matchesExclude(e, controller));
}
