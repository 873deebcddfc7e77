// Build artefacts the VMs boot from, made once and kept in .test-state/vm/:
//  - nvt-initramfs-<kver>.cpio: busybox + nvme/nvmet/virtio/9p modules + guest/init (rebuilt when a guest script
//    is newer than the archive);
//  - vmlinux-<kver>: the ELF kernel pulled out of the bzImage's xz payload, booted through PVH, which saves about
//    3.5 s per boot under TCG (no real-mode setup, no in-guest decompression).
// Two kernels: '6.1' (default) is Debian 12's linux-image-amd64 installed on this machine; '6.12' is Debian 13's
// (NVMe in-band authentication: CONFIG_NVME_HOST_AUTH=y, CONFIG_NVME_TARGET_AUTH=y), fetched once by
// fetch-kernel.sh into a cache folder (never installed into the host system).
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { guestDir, harnessSrcDir, kernelRelease, vmStateRoot } from './paths.js';

/** The kernels the VMs can boot: Debian 12's (installed, default) or Debian 13's (fetched into a cache). */
export type KernelSeries = '6.1' | '6.12';
export const KERNEL_SERIES: readonly KernelSeries[] = ['6.1', '6.12'];
export const DEFAULT_KERNEL: KernelSeries = '6.1';

export interface BootArtefacts {
  series: KernelSeries;
  kernelRelease: string;
  kernel: string;
  initramfs: string;
  /** Root of the tree holding lib/modules/<kernelRelease> ('/' for the installed kernel). */
  modRoot: string;
}

interface KernelSource {
  kver: string;
  vmlinuz: string;
  modRoot: string;
}

export function checkKernelSeries(k: string): KernelSeries {
  if (!(KERNEL_SERIES as readonly string[]).includes(k)) {
    throw new Error(`target-vm harness: unknown kernel '${k}' (known: ${KERNEL_SERIES.join(', ')})`);
  }
  return k as KernelSeries;
}

const fetched = new Map<KernelSeries, Promise<KernelSource>>();

/** The kernel image and module tree of a series; 6.12 is downloaded and unpacked on first use (minutes). */
function kernelSource(series: KernelSeries): Promise<KernelSource> {
  if (series === '6.1') {
    const kver = kernelRelease();
    return Promise.resolve({ kver, vmlinuz: `/boot/vmlinuz-${kver}`, modRoot: '/' });
  }
  let p = fetched.get(series);
  if (!p) {
    p = (async () => {
      const r = await execa('bash', [join(harnessSrcDir, 'fetch-kernel.sh'), series], {
        reject: false,
        timeout: 1_200_000,
      });
      const root = r.stdout.trim().split('\n').pop() ?? '';
      if (r.exitCode !== 0 || !existsSync(join(root, 'lib', 'modules'))) {
        throw new Error(`target-vm harness: fetch-kernel.sh ${series} failed (exit ${r.exitCode}):\n${r.stderr}`);
      }
      const kver = readdirSync(join(root, 'lib', 'modules'))[0] ?? '';
      const vmlinuz = join(root, 'boot', `vmlinuz-${kver}`);
      if (!existsSync(vmlinuz)) throw new Error(`target-vm harness: ${vmlinuz} missing in the fetched kernel tree`);
      return { kver, vmlinuz, modRoot: root };
    })();
    p.catch(() => fetched.delete(series));
    fetched.set(series, p);
  }
  return p;
}

function newestMtime(files: string[]): number {
  return Math.max(...files.map((f) => statSync(f).mtimeMs));
}

async function ensureInitramfs(kver: string, modRoot: string): Promise<string> {
  const out = join(vmStateRoot, `nvt-initramfs-${kver}.cpio`);
  const inputs = [join(harnessSrcDir, 'build-initramfs.sh'), join(guestDir, 'init'), join(guestDir, 'nvmet-setup.sh')];
  if (existsSync(out) && statSync(out).mtimeMs >= newestMtime(inputs)) return out;
  const r = await execa('bash', [join(harnessSrcDir, 'build-initramfs.sh'), out], {
    env: { KVER: kver, MODROOT: modRoot },
    reject: false,
    timeout: 120_000,
    all: true,
  });
  if (r.exitCode !== 0 || !existsSync(out)) {
    throw new Error(`target-vm harness: build-initramfs.sh failed (exit ${r.exitCode}):\n${r.all ?? ''}`);
  }
  return out;
}

const XZ_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);

function isElf(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(4);
    return readSync(fd, b, 0, 4, 0) === 4 && b.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  } finally {
    closeSync(fd);
  }
}

async function ensureVmlinux(kver: string, vmlinuz: string): Promise<string> {
  const out = join(vmStateRoot, `vmlinux-${kver}`);
  if (existsSync(out)) return out;
  const img = readFileSync(vmlinuz);
  const tmpIn = `${out}.xz.${process.pid}`;
  const tmpOut = `${out}.tmp.${process.pid}`;
  try {
    // the payload offset is not recorded anywhere we can read cheaply: try every xz magic until one is an ELF
    for (let pos = img.indexOf(XZ_MAGIC); pos >= 0; pos = img.indexOf(XZ_MAGIC, pos + 1)) {
      writeFileSync(tmpIn, img.subarray(pos));
      const r = await execa('xz', ['-dc', '--single-stream', tmpIn], {
        stdout: { file: tmpOut },
        reject: false,
        timeout: 60_000,
      });
      if (r.exitCode === 0 && isElf(tmpOut)) {
        renameSync(tmpOut, out);
        return out;
      }
    }
  } finally {
    rmSync(tmpIn, { force: true });
    rmSync(tmpOut, { force: true });
  }
  // a kernel we cannot unpack still boots as a bzImage, only slower
  return vmlinuz;
}

const building = new Map<KernelSeries, Promise<BootArtefacts>>();

/**
 * Builds (or reuses) the initramfs and the PVH kernel of a kernel series (default: the installed 6.1). Once per
 * process and series at a time: two VMs booting together would otherwise share the pid-named temporary files.
 */
export function ensureBootArtefacts(series: KernelSeries = DEFAULT_KERNEL): Promise<BootArtefacts> {
  let p = building.get(series);
  if (!p) {
    p = buildBootArtefacts(series).finally(() => building.delete(series));
    building.set(series, p);
  }
  return p;
}

async function buildBootArtefacts(series: KernelSeries): Promise<BootArtefacts> {
  mkdirSync(vmStateRoot, { recursive: true });
  const src = await kernelSource(series);
  const [initramfs, kernel] = await Promise.all([
    ensureInitramfs(src.kver, src.modRoot),
    ensureVmlinux(src.kver, src.vmlinuz),
  ]);
  return { series, kernelRelease: src.kver, kernel, initramfs, modRoot: src.modRoot };
}
