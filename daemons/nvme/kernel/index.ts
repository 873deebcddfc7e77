// The kernel fabrics driver: /dev/nvme-fabrics connects, sysfs controllers, adoption matching, the discovery
// log of kernel discovery controllers, kernel feature detection.
export * from './errors.js';
export * from './fabrics-device.js';
export * from './sysfs.js';
export * from './match.js';
export * from './discovery-log.js';
export * from './features.js';
