// What a controller says of itself and who this host says it is, as both daemons' userspace drivers show and send
// it: the attribute dict of list_controllers/controller_info, and the host ID of the Connect command.
import { randomUUID } from 'node:crypto';
import type { IdentifyController } from '../nvme/protocol/identify.js';

/** sysfs / Identify attributes of a controller's details dict (each '' when unknown). */
export interface ControllerAttributes {
  hostid: string;
  hostnqn: string;
  model: string;
  serial: string;
  /** none | ddc | cdc | '' */
  dctype: string;
  /** discovery | io | admin | '' */
  cntrltype: string;
}

const DCTYPE = ['none', 'ddc', 'cdc'];
const CNTRLTYPE = ['', 'io', 'discovery', 'admin'];

/** What a controller says of itself (Identify Controller) in the attribute names both daemons show. */
export function identifyAttributes(id: IdentifyController, hostid: string, hostnqn: string): ControllerAttributes {
  return {
    hostid,
    hostnqn,
    model: id.mn,
    serial: id.sn,
    dctype: DCTYPE[id.dctype] ?? String(id.dctype),
    cntrltype: CNTRLTYPE[id.cntrltype] ?? String(id.cntrltype),
  };
}

const processHostId = randomUUID();

/** A UUID for the Connect command: the sys.conf host ID, else the UUID in a uuid-form host NQN, else a random one. */
export function connectHostId(hostid: string, hostnqn: string): string {
  if (/^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i.test(hostid)) return hostid;
  const m = /uuid:([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i.exec(hostnqn);
  return m ? m[1]! : processHostId;
}
