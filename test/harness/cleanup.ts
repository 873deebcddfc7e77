// Run once at the end of the suite (test/run-node-tests.mjs runs dist/test/harness/cleanup.js): stops every
// suite-wide peer the harnesses started — the QEMU VMs and, when that harness exists, the Ceph cluster.
// STAS_KEEP_PEERS=1 keeps them running (fast edit-test cycles; the next run reuses them).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { stopAllVms } from './target-vm/index.js';

async function stopCephIfPresent(): Promise<void> {
  // the Ceph harness is another helper's module and may not exist yet: import it only if it is there
  const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
  const url = new URL(`./ceph/index.${ext}`, import.meta.url);
  if (!existsSync(fileURLToPath(url))) return;
  const mod = (await import(url.href)) as { stopCeph?: () => Promise<unknown> | unknown };
  if (typeof mod.stopCeph === 'function') await mod.stopCeph();
}

export async function cleanupSuitePeers(): Promise<void> {
  const errors: string[] = [];
  try {
    const vms = await stopAllVms();
    if (vms.length > 0) process.stderr.write(`[cleanup] stopped VMs: ${vms.join(', ')}\n`);
  } catch (e) {
    errors.push(`VMs: ${(e as Error).message}`);
  }
  try {
    await stopCephIfPresent();
  } catch (e) {
    errors.push(`Ceph: ${(e as Error).message}`);
  }
  if (errors.length > 0) throw new Error(`cleanup failed: ${errors.join('; ')}`);
}

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  if (process.env['STAS_KEEP_PEERS'] === '1') {
    process.stderr.write('[cleanup] STAS_KEEP_PEERS=1: leaving VMs and Ceph running\n');
  } else {
    cleanupSuitePeers().catch((e: unknown) => {
      process.stderr.write(`${(e as Error).message}\n`);
      process.exitCode = 1;
    });
  }
}
