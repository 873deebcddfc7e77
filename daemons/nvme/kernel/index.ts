export * from './fabrics-device.js';
export * from './sysfs.js';
export * from './match.js';
export * from './discovery-log.js';
