// Where the VM harness finds its own files (the guest scripts live in the source tree, also when running from
// dist/) and where it keeps build artefacts and per-VM run state (<repo>/.test-state/vm, gitignored).
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRepoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'test', 'harness', 'target-vm', 'guest'))) {
      return dir;
    }
    dir = dirname(dir);
  }
  throw new Error(`target-vm harness: cannot find the repository root above ${fileURLToPath(import.meta.url)}`);
}

export const repoRoot: string = findRepoRoot();
/** Shell pieces (build-initramfs.sh, guest/*) — always taken from the source tree, tsc does not copy them. */
export const harnessSrcDir: string = join(repoRoot, 'test', 'harness', 'target-vm');
export const guestDir: string = join(harnessSrcDir, 'guest');
/** Build artefacts (initramfs, vmlinux) and one sub-directory per VM name. */
export const vmStateRoot: string = join(repoRoot, '.test-state', 'vm');

export function vmDir(name: string): string {
  if (!/^[a-z0-9][a-z0-9-]{0,30}$/.test(name)) throw new Error(`target-vm harness: invalid VM name '${name}'`);
  return join(vmStateRoot, name);
}

/** The newest kernel with modules installed (the Debian linux-image-amd64 that the VMs boot). */
export function kernelRelease(): string {
  const mods = existsSync('/lib/modules') ? readdirSync('/lib/modules') : [];
  const withImage = mods.filter((k) => existsSync(`/boot/vmlinuz-${k}`) && existsSync(`/lib/modules/${k}/modules.dep`));
  if (withImage.length === 0) {
    throw new Error(
      'target-vm harness: no kernel found (/boot/vmlinuz-<ver> + /lib/modules/<ver>); install linux-image-amd64 ' +
        '(bash test/harness/install-deps.sh)',
    );
  }
  withImage.sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  return withImage[withImage.length - 1] as string;
}
