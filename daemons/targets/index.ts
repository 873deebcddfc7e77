// The kernel NVMe target (nvmet through configfs) as stacd uses it: see nvmet.ts.
export { NvmetTarget, type NvmetTargetOptions } from './nvmet.js';
export { Configfs, NVMET_ROOT, type NvmetState } from './configfs.js';
export { planNvmet, type OwnedRecord, type Plan } from './plan.js';
export { namespaceIdentity, subsystemSerial, SUBSYSTEM_MODEL } from './identity.js';
export { portLabel, type PortSpec, type HostSpec, type NamespaceSpec, type SubsystemSpec } from './types.js';
