// stasadm gen-dhchap-key: prints a new DH-HMAC-CHAP secret in the DHHC-1 representation, like
// `nvme gen-dhchap-key` (--hmac 1..3 transforms a random key with the NQN; 0 = the random key as is).
import type { Command } from 'commander';
import { formatDhchapSecret, generateDhchapSecret, type AuthHashId } from '../../daemons/nvme/protocol/index.js';

interface Opts {
  hmac: string;
  nqn?: string;
  keyLength?: string;
}

export function genDhchapKey(o: Opts): string {
  if (!/^[0-3]$/.test(o.hmac))
    throw new Error(`--hmac ${o.hmac}: must be 0 (none), 1 (SHA-256), 2 (SHA-384) or 3 (SHA-512)`);
  const hmac = Number(o.hmac) as 0 | AuthHashId;
  let keyLength: 32 | 48 | 64 | undefined;
  if (o.keyLength !== undefined) {
    if (!/^(32|48|64)$/.test(o.keyLength)) throw new Error(`--key-length ${o.keyLength}: must be 32, 48 or 64`);
    keyLength = Number(o.keyLength) as 32 | 48 | 64;
    const needed = [0, 32, 48, 64][hmac];
    if (hmac !== 0 && keyLength !== needed)
      throw new Error(`--key-length ${keyLength}: --hmac ${hmac} makes ${needed}-byte keys`);
  }
  if (o.nqn !== undefined && !/^nqn\.[\x21-\x7e]{1,219}$/.test(o.nqn)) throw new Error(`--nqn ${o.nqn}: not an NQN`);
  return formatDhchapSecret(
    generateDhchapSecret(hmac, { ...(o.nqn !== undefined ? { nqn: o.nqn } : {}), ...(keyLength ? { keyLength } : {}) }),
  );
}

export function register(program: Command): void {
  program
    .command('gen-dhchap-key')
    .description('Print a new DH-HMAC-CHAP secret (DHHC-1:NN:<base64>:) for dhchap-secret / dhchap-ctrl-secret')
    .option('-m, --hmac <N>', 'HMAC for the key transformation: 0 none, 1 SHA-256, 2 SHA-384, 3 SHA-512', '0')
    .option('-n, --nqn <NQN>', 'NQN the key is transformed with (--hmac 1..3): the host NQN for dhchap-secret')
    .option('-l, --key-length <BYTES>', 'key length with --hmac 0: 32 (default), 48 or 64')
    .action((opts: Opts) => {
      try {
        process.stdout.write(`${genDhchapKey(opts)}\n`);
      } catch (e) {
        process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
        process.exitCode = 2;
      }
    });
}
