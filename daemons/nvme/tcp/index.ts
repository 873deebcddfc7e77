// Userspace NVMe/TCP host: queues over net.Socket, admin sessions, discovery log reads, I/O queues.
export * from './errors.js';
export * from './session.js';
export * from './discovery.js';
export * from './io-queue.js';
export * from './host-binding.js';
export * from './auth.js';
