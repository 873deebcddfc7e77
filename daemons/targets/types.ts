// What stacd wants the kernel NVMe target (nvmet) to serve, independent of configfs: one subsystem per access
// path, its ports, its allowed hosts and its namespaces. daemons/access-paths builds these; plan.ts turns them
// into configfs operations.

export interface PortSpec {
  trtype: 'tcp';
  adrfam: 'ipv4' | 'ipv6';
  traddr: string;
  trsvcid: string;
}

export interface HostSpec {
  nqn: string;
  /** DH-HMAC-CHAP secret ("DHHC-1:…"), read from the key file by the caller; never logged */
  dhchapKey?: string;
}

export interface NamespaceSpec {
  nsid: number;
  /** block device or file nvmet serves */
  devicePath: string;
  /** "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (nvmet's format for both) */
  nguid: string;
  uuid: string;
  /** buffered_io: a file on a file system without O_DIRECT (tmpfs, FUSE) needs it; block devices do not */
  bufferedIo?: boolean;
}

export interface SubsystemSpec {
  nqn: string;
  /** attr_serial: printable ASCII, at most 20 characters */
  serial: string;
  /** attr_model: printable ASCII, at most 40 characters */
  model: string;
  ports: PortSpec[];
  hosts: HostSpec[];
  namespaces: NamespaceSpec[];
}

export function portLabel(p: Pick<PortSpec, 'trtype' | 'traddr' | 'trsvcid'>): string {
  return `${p.trtype}:${p.traddr.includes(':') ? `[${p.traddr}]` : p.traddr}:${p.trsvcid}`;
}
