// Kernel uevents (udevadm monitor fallback; no native addon needed).
export * from './uevent-parser.js';
export * from './monitor.js';
