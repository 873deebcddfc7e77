// Build artefacts the VMs boot from, made once and kept in .test-state/vm/:
//  - nvt-initramfs-<kver>.cpio: busybox + nvme/nvmet/virtio/9p modules + guest/init (rebuilt when a guest script
//    is newer than the archive);
//  - vmlinux-<kver>: the ELF kernel pulled out of the bzImage's xz payload, booted through PVH, which saves about
//    3.5 s per boot under TCG (no real-mode setup, no in-guest decompression).
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { guestDir, harnessSrcDir, kernelRelease, vmStateRoot } from './paths.js';

export interface BootArtefacts {
  kernelRelease: string;
  kernel: string;
  initramfs: string;
}

function newestMtime(files: string[]): number {
  return Math.max(...files.map((f) => statSync(f).mtimeMs));
}

async function ensureInitramfs(kver: string): Promise<string> {
  const out = join(vmStateRoot, `nvt-initramfs-${kver}.cpio`);
  const inputs = [join(harnessSrcDir, 'build-initramfs.sh'), join(guestDir, 'init'), join(guestDir, 'nvmet-setup.sh')];
  if (existsSync(out) && statSync(out).mtimeMs >= newestMtime(inputs)) return out;
  const r = await execa('bash', [join(harnessSrcDir, 'build-initramfs.sh'), out], {
    env: { KVER: kver },
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

async function ensureVmlinux(kver: string): Promise<string> {
  const out = join(vmStateRoot, `vmlinux-${kver}`);
  if (existsSync(out)) return out;
  const img = readFileSync(`/boot/vmlinuz-${kver}`);
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
  return `/boot/vmlinuz-${kver}`;
}

/** Builds (or reuses) the initramfs and the PVH kernel for the newest installed kernel. */
export async function ensureBootArtefacts(): Promise<BootArtefacts> {
  mkdirSync(vmStateRoot, { recursive: true });
  const kver = kernelRelease();
  const [initramfs, kernel] = await Promise.all([ensureInitramfs(kver), ensureVmlinux(kver)]);
  return { kernelRelease: kver, kernel, initramfs };
}
