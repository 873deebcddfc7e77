// Kernel NVMe controllers as sysfs shows them (/sys/class/nvme/nvmeN/...), and deleting one. Used to adopt
// existing connections (nvme-stas §4.8), to follow controller state, and to disconnect.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FabricsError } from './errors.js';

export const SYS_CLASS_NVME = '/sys/class/nvme';

/** Parsed sysfs `address`: `traddr=…,trsvcid=…,host_traddr=…,host_iface=…,src_addr=…` (any subset). */
export interface ControllerAddress {
  traddr: string;
  trsvcid: string;
  hostTraddr: string;
  hostIface: string;
  /** Local address of the TCP connection (kernel ≥ 6.1); '' when unknown. */
  srcAddr: string;
}

export interface KernelController {
  /** `nvmeN` */
  name: string;
  instance: number;
  /** live, connecting, resetting, deleting, new, dead, … */
  state: string;
  transport: string;
  address: ControllerAddress;
  /** raw `address` file */
  addressRaw: string;
  subsysnqn: string;
  hostnqn: string;
  hostid: string;
  cntlid: string;
  /** `io`, `discovery`, `admin` (≥ 5.18), '' on older kernels */
  cntrltype: string;
  /** `none`, `ddc`, `cdc` (≥ 5.18), '' on older kernels */
  dctype: string;
  model: string;
  serial: string;
  firmwareRev: string;
  /** Namespace children (`nvme0n1`, or `nvme0c0n1` path nodes with native multipath). */
  children: string[];
}

/** `none` (what udev and sysfs write for an unset field) counts as empty. */
const orEmpty = (v: string | undefined): string => (v === undefined || v === 'none' ? '' : v);

export function parseAddress(text: string): ControllerAddress {
  const kv = new Map<string, string>();
  for (const tok of text.trim().split(',')) {
    const eq = tok.indexOf('=');
    if (eq > 0) kv.set(tok.slice(0, eq).trim(), tok.slice(eq + 1).trim());
  }
  return {
    traddr: orEmpty(kv.get('traddr')),
    trsvcid: orEmpty(kv.get('trsvcid')),
    hostTraddr: orEmpty(kv.get('host_traddr')),
    hostIface: orEmpty(kv.get('host_iface')),
    srcAddr: orEmpty(kv.get('src_addr')),
  };
}

const CTRL_NAME = /^nvme(\d+)$/;
const CHILD_NAME = /^nvme\d+(c\d+)?n\d+$/;

function checkName(name: string): number {
  const m = CTRL_NAME.exec(name);
  if (!m) throw new FabricsError(`controller '${name}'`, 'EINVAL', 'not a controller name (nvmeN)');
  return Number(m[1]);
}

async function attr(dir: string, file: string): Promise<string> {
  try {
    return (await readFile(join(dir, file), 'utf8')).trim();
  } catch {
    return ''; // attribute absent on this kernel / transport, or the controller went away meanwhile
  }
}

/** One controller, or undefined if it does not exist (any more). */
export async function readController(name: string, root = SYS_CLASS_NVME): Promise<KernelController | undefined> {
  const instance = checkName(name);
  const dir = join(root, name);
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch {
    return undefined;
  }
  const [
    state,
    transport,
    addressRaw,
    subsysnqn,
    hostnqn,
    hostid,
    cntlid,
    cntrltype,
    dctype,
    model,
    serial,
    firmwareRev,
  ] = await Promise.all(
    [
      'state',
      'transport',
      'address',
      'subsysnqn',
      'hostnqn',
      'hostid',
      'cntlid',
      'cntrltype',
      'dctype',
      'model',
      'serial',
      'firmware_rev',
    ].map((f) => attr(dir, f)),
  );
  return {
    name,
    instance,
    state: state!,
    transport: transport!,
    address: parseAddress(addressRaw!),
    addressRaw: addressRaw!,
    subsysnqn: subsysnqn!,
    hostnqn: hostnqn!,
    hostid: hostid!,
    cntlid: cntlid!,
    cntrltype: cntrltype!,
    dctype: dctype!,
    model: model!,
    serial: serial!,
    firmwareRev: firmwareRev!,
    children: entries.filter((e) => CHILD_NAME.test(e)).sort(),
  };
}

/** Every NVMe controller (fabrics and PCIe), by instance number. */
export async function listControllers(root = SYS_CLASS_NVME): Promise<KernelController[]> {
  let names: string[];
  try {
    names = (await readdir(root)).filter((n) => CTRL_NAME.test(n));
  } catch {
    return []; // no nvme-core loaded: no controllers
  }
  const all = await Promise.all(names.map((n) => readController(n, root)));
  return all.filter((c): c is KernelController => c !== undefined).sort((a, b) => a.instance - b.instance);
}

/** Tears a fabrics controller down (nvme disconnect). */
export async function deleteController(name: string, root = SYS_CLASS_NVME): Promise<void> {
  checkName(name);
  try {
    await writeFile(join(root, name, 'delete_controller'), '1');
  } catch (e) {
    throw FabricsError.from(`delete controller ${name}`, e);
  }
}

/** nvme-stas §4.8: a DC candidate has the well-known NQN, says cntrltype=discovery, or has no children. */
export function isDiscoveryCandidate(c: KernelController): boolean {
  return (
    c.subsysnqn === 'nqn.2014-08.org.nvmexpress.discovery' || c.cntrltype === 'discovery' || c.children.length === 0
  );
}

/** nvme-stas §4.8: an IOC candidate says cntrltype=io or has children (the two sets may overlap). */
export function isIoCandidate(c: KernelController): boolean {
  return c.cntrltype === 'io' || c.children.length > 0;
}
