// The pure NVMe/TCP + NVMe-oF codec layer (no I/O). Everything a decoder throws is a ProtocolError.
export * from './errors.js';
export * from './crc32c.js';
export * from './constants.js';
export * from './pdu.js';
export * from './sqe.js';
export * from './status.js';
export * from './commands.js';
export * from './identify.js';
export * from './discovery-log.js';
export * from './log-pages.js';
export * from './auth.js';
export * from './ffdhe.js';
