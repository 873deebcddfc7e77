// Default host identity for one-shot tools: /etc/nvme/hostnqn and /etc/nvme/hostid when present, otherwise a
// generated UUID-based NQN (nothing is written; daemons use the config layer's sys.conf identity instead).
import { randomUUID } from 'node:crypto';
import { KEY_FILE_MAX_BYTES, readFileBoundedSync } from '../../common/bounded-read.js';
import type { HostIdentity } from './session.js';

const UUID_RE = /[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}/;

function readFirstLine(path: string): string | undefined {
  try {
    const v = readFileBoundedSync(path, KEY_FILE_MAX_BYTES).split('\n')[0]!.trim();
    return v.length ? v : undefined;
  } catch {
    return undefined;
  }
}

export interface DefaultHostIdentityOptions {
  hostnqnFile?: string;
  hostidFile?: string;
}

export function defaultHostIdentity(o: DefaultHostIdentityOptions = {}): HostIdentity & { source: string } {
  const nqn = readFirstLine(o.hostnqnFile ?? '/etc/nvme/hostnqn');
  const idFile = readFirstLine(o.hostidFile ?? '/etc/nvme/hostid');
  const id = idFile && UUID_RE.test(idFile) ? idFile.match(UUID_RE)![0] : undefined;
  if (nqn) {
    // a UUID-form NQN carries the host ID nvme-cli would use when /etc/nvme/hostid is absent
    const fromNqn = nqn.match(UUID_RE)?.[0];
    return { hostnqn: nqn, hostid: id ?? fromNqn ?? randomUUID(), source: '/etc/nvme/hostnqn' };
  }
  const hostid = id ?? randomUUID();
  return { hostnqn: `nqn.2014-08.org.nvmexpress:uuid:${hostid}`, hostid, source: 'generated' };
}
