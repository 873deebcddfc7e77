// TP8010 DIM (admin opcode 21h) through the kernel NVMe host: the kernel has no DIM of its own, so the command goes
// down the controller's admin queue with nvme-cli's passthrough, the data being the same DIM encoding the userspace
// host sends (daemons/nvme/protocol/dim.ts):
//   nvme admin-passthru /dev/nvmeN --opcode=0x21 --cdw10=<TAS> --data-len=<n> --input-file=<f> --write
// An NVMe status from the controller becomes the same NvmeStatusError the userspace host raises (stafd then warns
// "Registration error. <status>." either way); anything else (no nvme-cli, ioctl error, timeout) is a plain Error.
//
// nvme-cli 2.3 reports a status on stderr as `NVMe status: <text>(0x<v>)` and exits 1, where <v> is the CQE status
// field without the phase bit (SC 7:0, SCT 10:8, CRD 12:11, M 13, DNR 14), e.g. 0x6001 = Invalid Command Opcode, DNR.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { AdminOpcode } from '../nvme/protocol/constants.js';
import { splitStatus } from '../nvme/protocol/status.js';
import type { Cqe } from '../nvme/protocol/sqe.js';
import type { DimTaskCode } from '../nvme/protocol/dim.js';
import { NvmeStatusError } from '../nvme/tcp/errors.js';

const PASSTHRU_TIMEOUT_MS = 15_000;

/** The completion status nvme-cli printed (`NVMe status: …(0x6001)`), as a CQE, or undefined when there is none. */
export function parseNvmeCliStatus(stderr: string): Cqe | undefined {
  const m = /NVMe status: .*\(0x([0-9a-f]+)\)\s*$/im.exec(stderr);
  if (!m) return undefined;
  const v = parseInt(m[1]!, 16);
  if (!Number.isFinite(v) || v === 0 || v > 0x7fff) return undefined;
  const raw = (v << 1) & 0xfffe;
  return { dw0: 0, dw1: 0, sqhd: 0, sqid: 0, cid: 0, status: raw, ...splitStatus(raw), ok: false };
}

/** Sends one DIM with `data` to the kernel controller `device` (nvmeN); resolves on success. */
export async function kernelDim(device: string, tas: DimTaskCode, data: Buffer, nvme = 'nvme'): Promise<void> {
  if (!/^nvme\d+$/.test(device)) throw new Error(`DIM: "${device}" is not a controller name (nvmeN)`);
  const dir = await mkdtemp(join(tmpdir(), 'stas-dim-'));
  const file = join(dir, 'dim.bin');
  try {
    await writeFile(file, data, { mode: 0o600 });
    const args = [
      'admin-passthru',
      `/dev/${device}`,
      `--opcode=0x${AdminOpcode.DiscoveryInfoMgmt.toString(16)}`,
      `--cdw10=${tas}`,
      `--data-len=${data.length}`,
      `--input-file=${file}`,
      '--write',
    ];
    const r = await execa(nvme, args, {
      reject: false,
      timeout: PASSTHRU_TIMEOUT_MS,
      stdin: 'ignore',
      encoding: 'utf8',
    });
    if (r.exitCode === 0 && !r.failed) return;
    const stderr = String(r.stderr ?? '');
    const cqe = parseNvmeCliStatus(stderr);
    if (cqe) throw new NvmeStatusError(`DIM(TAS=${tas}) on ${device}`, cqe, false);
    const why =
      r.exitCode === undefined
        ? r.message
        : `exit code ${r.exitCode}: ${(stderr || String(r.stdout ?? '')).trim().split('\n')[0] ?? ''}`;
    throw new Error(`DIM(TAS=${tas}) on ${device}: nvme admin-passthru failed (${why})`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
