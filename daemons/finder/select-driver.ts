// stafd's fabrics driver, chosen by the rule both daemons share (controllers/driver-kind.ts).
import { log } from '../common/log.js';
import { chooseDriverKind, kernelFabricsUsable, DRIVER_ENV } from '../controllers/driver-kind.js';
import type { FabricsDriver } from './driver.js';
import { UserspaceDriver } from './userspace-driver.js';
import { KernelDriver } from './kernel-driver.js';

export function createDriver(env: NodeJS.ProcessEnv = process.env): FabricsDriver {
  const { kind, why } = chooseDriverKind(env[DRIVER_ENV], kernelFabricsUsable());
  log().info(`fabrics driver: ${kind} (${why})`);
  return kind === 'kernel' ? new KernelDriver() : new UserspaceDriver();
}
