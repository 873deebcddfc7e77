// Runs INSIDE the kernel-host VM (see kernel-dim.peers.test.ts): the kernel driver makes a discovery controller to the
// in-VM nvmet, and KernelLink.register() sends the TP8010 DIM through nvme-cli's admin passthrough. Linux nvmet does
// not implement DIM (and reports dctype none, so stafd itself would not register): the real controller answers
// Invalid Command Opcode, which must come back as the same NvmeStatusError the userspace host raises. Prints one
// JSON line; the parent asserts.
import { KernelDriver } from '../../daemons/finder/kernel-driver.js';
import { kernelDim } from '../../daemons/finder/kernel-dim.js';
import { NvmeStatusError } from '../../daemons/nvme/tcp/errors.js';
import { TID } from '../../daemons/common/tid.js';
import { DISC_NQN } from './rig.js';
import { printReport } from '../harness/target-vm/scenario.js';

const [traddr, trsvcid] = process.argv.slice(2) as [string, string];
const hostnqn = 'nqn.2014-08.org.nvmexpress:uuid:5f0b8a2e-3c4d-4e5f-8a9b-0c1d2e3f4a5b';
const result: Record<string, unknown> = {};
const driver = new KernelDriver();
const tid = TID.fromCid(
  [
    ['transport', 'tcp'],
    ['traddr', traddr],
    ['trsvcid', trsvcid],
    ['subsysnqn', DISC_NQN],
  ],
  { ignoreIface: false, hostNqn: hostnqn },
);
const describe = (e: unknown): Record<string, unknown> =>
  e instanceof NvmeStatusError
    ? { status: true, sct: e.sct, sc: e.sc, dnr: e.dnr, statusText: e.statusText, message: e.message }
    : { status: false, message: (e as Error).message };
try {
  const link = await driver.connect({
    tid,
    hostnqn,
    hostid: '5f0b8a2e-3c4d-4e5f-8a9b-0c1d2e3f4a5b',
    symname: 'stas kernel dim test',
    katoSec: 30,
    hdrDigest: false,
    dataDigest: false,
    kernelOptions: new Map(),
  });
  result.device = link.device;
  result.dctype = link.attributes.dctype;
  result.cntrltype = link.attributes.cntrltype;
  try {
    await link.register!();
    result.register = { ok: true };
  } catch (e) {
    result.register = describe(e);
  }
  result.aliveAfter = link.alive;
  // no such controller: not a status, a plain failure (stafd retries those every 5 s)
  try {
    await kernelDim('nvme4095', 0, Buffer.alloc(2056));
    result.missing = { ok: true };
  } catch (e) {
    result.missing = describe(e);
  }
  await link.close(false);
} catch (e) {
  result.error = (e as Error).message;
} finally {
  await driver.stop();
}
printReport(result);
process.exit(0);
