// How stacd carries an I/O controller connection, whatever does it: the kernel NVMe host (/dev/nvme-fabrics,
// sysfs, uevents) or stas's userspace NVMe/TCP host (admin session + I/O queue in this process). The controller
// objects and the executor only see this interface.
import type { EventEmitter } from 'node:events';
import type { TID } from '../common/tid.js';
import type { FabricsConnectOptions } from '../nvme/kernel/fabrics-device.js';
import type { ForeignIoc } from './planner.js';

import type { DriverKind } from '../controllers/driver-kind.js';
import type { ControllerAttributes } from '../controllers/identity.js';

export type { DriverKind };

/** sysfs / Identify attributes of the details dict (each '' when unknown). */
export type IocAttributes = ControllerAttributes;

export interface IocLinkEvents {
  /** the connection is gone (kernel device removed, session closed); the link is dead */
  lost: [reason: string];
}

/** One live I/O controller connection. */
export interface IocLink extends EventEmitter<IocLinkEvents> {
  /** kernel device name (`nvme3`), or `nvme?` when the connection has no kernel device */
  readonly device: string;
  readonly attributes: IocAttributes;
  readonly alive: boolean;
  /** the connection existed before this link was made (adopted), rather than created by it */
  readonly adopted: boolean;
  /** `disconnect`: tear the connection down (kernel delete_controller); otherwise just stop following it */
  close(disconnect: boolean): Promise<void>;
}

/** Fabrics options of one connect, resolved (controller override > [Global] > not sent) and type-checked. */
export type IocConnectOptions = Pick<
  FabricsConnectOptions,
  | 'nrIoQueues'
  | 'nrWriteQueues'
  | 'nrPollQueues'
  | 'queueSize'
  | 'keepAliveTmo'
  | 'reconnectDelay'
  | 'ctrlLossTmo'
  | 'disableSqflow'
  | 'hdrDigest'
  | 'dataDigest'
>;

export interface IocConnectRequest {
  tid: TID;
  /** host NQN the connect uses: sys.conf's (nvme-stas quirk: a host-nqn= of the controller line only identifies) */
  hostnqn: string;
  hostid: string;
  options: IocConnectOptions;
  /** dhchap keys, by reference from the configuration (never logged, never on D-Bus) */
  dhchapSecret?: string;
  dhchapCtrlSecret?: string;
}

export interface IocDriverEvents {
  /** kernel controllers appeared or disappeared (uevent add/remove): foreign() may differ */
  changed: [];
}

export interface IocDriver extends EventEmitter<IocDriverEvents> {
  readonly kind: DriverKind;
  start(): Promise<void>;
  /** connects, or adopts an existing matching kernel controller; rejects with an Error saying why */
  connect(req: IocConnectRequest): Promise<IocLink>;
  /** follows an existing kernel controller (planner's adopt step) */
  adopt(device: string, tid: TID): Promise<IocLink>;
  /** kernel I/O controllers not followed by any link of this driver */
  foreign(): Promise<ForeignIoc[]>;
  /** tears down a kernel controller stacd does not follow (audit mode) */
  disconnectDevice(device: string): Promise<void>;
  stop(): Promise<void>;
}
