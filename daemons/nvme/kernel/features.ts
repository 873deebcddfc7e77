// Which optional connect options the running kernel accepts (nvme-stas §4.14). nvme-stas assumes an option from a
// kernel version on (host_iface 5.14, discovery 5.16, dhchap_* "5.20") and otherwise looks it up in the option list
// of /dev/nvme-fabrics. stas trusts the option list whenever it can be read (it is what the parser accepts) and
// falls back to the version thresholds only when the list is unreadable (kernels before 5.17, or no permission).
// Note: 6.1 lists dhchap_secret even when built without NVME_AUTH (Debian); such a connect then fails in the kernel.
import { release } from 'node:os';
import { readSupportedOptions, type SupportedOptions } from './fabrics-device.js';

export interface KernelFeatures {
  release: string;
  hostIface: boolean;
  discovery: boolean;
  dhchapSecret: boolean;
  dhchapCtrlSecret: boolean;
  /** The kernel's option list, when readable. */
  supported?: SupportedOptions;
  /** Set when the option list could not be read. */
  warning?: string;
}

/** Numeric components of a release string: '5.8.0-63-generic' → [5, 8, 0, 63]. */
export function releaseComponents(rel: string): number[] {
  const out: number[] = [];
  for (const tok of rel.trim().split(/[.\-+~_]/)) {
    if (!/^\d+$/.test(tok)) break;
    out.push(Number(tok));
  }
  return out;
}

/** Loose version comparison (Python list order): <0, 0, >0. '5.8.0-63-generic' equals '5.8.0-63'. */
export function compareRelease(a: string, b: string): number {
  const x = releaseComponents(a);
  const y = releaseComponents(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return (x[i] as number) - (y[i] as number);
  return x.length - y.length;
}

const THRESHOLDS: ReadonlyArray<
  readonly [keyof Omit<KernelFeatures, 'release' | 'supported' | 'warning'>, string, string]
> = [
  ['hostIface', 'host_iface', '5.14'],
  ['discovery', 'discovery', '5.16'],
  ['dhchapSecret', 'dhchap_secret', '5.20'],
  ['dhchapCtrlSecret', 'dhchap_ctrl_secret', '5.20'],
];

export function kernelFeatures(rel: string, supported: SupportedOptions | undefined, warning?: string): KernelFeatures {
  const f: KernelFeatures = {
    release: rel,
    hostIface: false,
    discovery: false,
    dhchapSecret: false,
    dhchapCtrlSecret: false,
  };
  for (const [key, option, since] of THRESHOLDS) {
    f[key] = supported ? supported.has(option) : compareRelease(rel, since) >= 0;
  }
  if (supported) f.supported = supported;
  if (warning) f.warning = warning;
  return f;
}

/** Reads the running kernel's features (never throws: an unreadable list becomes `warning`). */
export async function detectKernelFeatures(device?: string): Promise<KernelFeatures> {
  let supported: SupportedOptions | undefined;
  let warning: string | undefined;
  try {
    supported = await readSupportedOptions(device);
    if (!supported) warning = 'Cannot determine which NVMe options the kernel supports';
  } catch (e) {
    warning = `Cannot determine which NVMe options the kernel supports: ${(e as Error).message}`;
  }
  return kernelFeatures(release(), supported, warning);
}
