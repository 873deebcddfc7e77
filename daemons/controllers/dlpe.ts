// A discovery log page entry as both daemons handle it: nvme-stas's DLPE dict (what get_log_pages returns and
// stacd reads back from get_all_log_pages), and the one flag stacd acts on.
/** One DLPE dict: every value a string, keys in libnvme order. */
export type Dlpe = Record<string, string>;

/** EFLAGS bit 2: No CDC Connectivity (NCC) — stop retrying after connect-attempts-on-ncc failures. */
export const EFLAGS_NCC = 1 << 2;

export function nccOf(dlpe: Dlpe | undefined): boolean {
  if (!dlpe) return false;
  const n = Number(dlpe.eflags ?? '0');
  return Number.isInteger(n) && (n & EFLAGS_NCC) !== 0;
}
