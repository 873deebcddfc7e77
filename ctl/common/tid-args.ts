// The 7 controller-id fields that stafctl dlp and controller_info take, as nvme-stas orders them.
export const TID_KEYS = [
  'transport',
  'traddr',
  'trsvcid',
  'subsysnqn',
  'host-traddr',
  'host-iface',
  'host-nqn',
] as const;

export function tidArgs(c: Record<string, string>): string[] {
  return TID_KEYS.map((k) => c[k] ?? '');
}
