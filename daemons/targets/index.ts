// The kernel NVMe target (nvmet through configfs) as stacd uses it: see nvmet.ts.
export { NvmetTarget } from './nvmet.js';
export { Configfs } from './configfs.js';
export { planNvmet } from './plan.js';
export { namespaceIdentity, subsystemSerial, SUBSYSTEM_MODEL } from './identity.js';
export type { SubsystemSpec } from './types.js';
