// An access path: a name, the ports it listens on, its subsystem NQN, the hosts of its mapping group (NQN and
// an optional DH-HMAC-CHAP key by file reference), and its volumes in NSID order. Validation of every field
// the user gives, with messages that name the field and the value.
import { isIP } from 'node:net';
import { createHash } from 'node:crypto';
import { validateName } from '../volumes/names.js';
import { InvalidArgumentError } from '../volumes/errors.js';
import type { PortSpec } from '../targets/types.js';

export interface MappedHost {
  nqn: string;
  /** absolute path of a file holding the host's DH-HMAC-CHAP secret (read when nvmet is configured) */
  keyFile?: string;
}

export interface MappedVolume {
  nsid: number;
  /** current volume name (follows renames) */
  volume: string;
  /** pool/id: stable over the volume's life; the namespace's NGUID/UUID derive from it */
  key: string;
}

export interface AccessPath {
  name: string;
  nqn: string;
  ports: PortSpec[];
  hosts: MappedHost[];
  /** sorted by nsid */
  volumes: MappedVolume[];
  /** unix seconds */
  created: number;
}

export const MAX_NSID = 1024; // nvmet's NVMET_MAX_NAMESPACES

export function validateAccessPathName(name: unknown): string {
  return validateName(name, 'access path name');
}

// NVMe base spec 4.5: "nqn.yyyy-mm.<reverse domain>:<string>" or the UUID form, at most 223 bytes. Also a
// configfs directory name here: no "/", no white space.
const NQN_RE = /^nqn\.\d{4}-(0[1-9]|1[0-2])\.[A-Za-z0-9][A-Za-z0-9.-]*(:[\x21-\x2e\x30-\x7e]+)+$/;

export function validateNqn(nqn: unknown, field = 'NQN'): string {
  if (typeof nqn !== 'string') throw new InvalidArgumentError(`${field}: must be a string`);
  if (Buffer.byteLength(nqn) > 223) throw new InvalidArgumentError(`${field}: "${nqn}" is longer than 223 bytes`);
  if (nqn === 'nqn.2014-08.org.nvmexpress.discovery')
    throw new InvalidArgumentError(`${field}: "${nqn}" is the discovery NQN`);
  if (!NQN_RE.test(nqn))
    throw new InvalidArgumentError(
      `${field}: "${nqn}" is not an NVMe qualified name (nqn.yyyy-mm.reverse.domain:string, no "/" or spaces)`,
    );
  return nqn;
}

/** "tcp:ADDR:PORT", IPv6 in brackets ("tcp:[fd00::1]:4420"). */
export function parsePort(text: string): PortSpec {
  const m = /^([a-z]+):(\[[^\]]+\]|[^:[\]]+):(\d{1,5})$/.exec(text);
  if (!m) throw new InvalidArgumentError(`port "${text}": expected tcp:ADDRESS:PORT (IPv6 address in brackets)`);
  const [, trtype, rawAddr, svc] = m as unknown as [string, string, string, string];
  if (trtype !== 'tcp')
    throw new InvalidArgumentError(`port "${text}": transport "${trtype}" is not supported (only tcp)`);
  const traddr = rawAddr.startsWith('[') ? rawAddr.slice(1, -1) : rawAddr;
  const fam = isIP(traddr);
  if (fam === 0) throw new InvalidArgumentError(`port "${text}": "${traddr}" is not an IP address`);
  if (rawAddr.startsWith('[') !== (fam === 6))
    throw new InvalidArgumentError(`port "${text}": an IPv6 address goes in brackets, an IPv4 one does not`);
  const n = Number(svc);
  if (n < 1 || n > 65535) throw new InvalidArgumentError(`port "${text}": service id ${svc} is not in 1-65535`);
  return { trtype: 'tcp', adrfam: fam === 6 ? 'ipv6' : 'ipv4', traddr, trsvcid: String(n) };
}

/** A subsystem NQN unique to this appliance and access path (the appliance's identity mixed in). */
export function defaultNqn(name: string, applianceId: string): string {
  const h = createHash('sha256').update(`stas:ap-nqn:${applianceId}`).digest('hex').slice(0, 12);
  return `nqn.2024-01.org.nvmexpress.stas:${h}:${name}`;
}

/** the smallest NSID ≥ 1 not in use */
export function nextNsid(ap: AccessPath): number {
  const used = new Set(ap.volumes.map((v) => v.nsid));
  for (let n = 1; n <= MAX_NSID; n++) if (!used.has(n)) return n;
  throw new InvalidArgumentError(`access path "${ap.name}": all ${MAX_NSID} namespace ids are in use`);
}
