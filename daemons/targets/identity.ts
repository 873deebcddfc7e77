// Stable identities for what stacd exports, derived from the exported object's identity alone (no counter, no
// state), so that /dev/disk/by-id links and native multipath on the hosts stay the same across stacd restarts,
// appliance reboots and re-creation from state. NVMe puts serial and model on the controller (one per
// subsystem, i.e. per access path) and NGUID/UUID on the namespace (one per volume).
import { createHash } from 'node:crypto';

function digest(domain: string, key: string): Buffer {
  return createHash('sha256').update(`stas:${domain}:`).update(key).digest();
}

function uuidForm(b: Buffer): string {
  const h = b.subarray(0, 16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** NGUID and UUID of a volume's namespace. `volumeKey` must not change over the volume's life (pool + id). */
export function namespaceIdentity(volumeKey: string): { nguid: string; uuid: string } {
  const u = Buffer.from(digest('uuid', volumeKey).subarray(0, 16));
  u[6] = (u[6]! & 0x0f) | 0x80; // RFC 9562 version 8 (custom), variant 10
  u[8] = (u[8]! & 0x3f) | 0x80;
  return { nguid: uuidForm(digest('nguid', volumeKey)), uuid: uuidForm(u) };
}

/** attr_serial of an access path's subsystem: 20 upper-case hex digits of its NQN's hash. */
export function subsystemSerial(nqn: string): string {
  return digest('serial', nqn).subarray(0, 10).toString('hex').toUpperCase();
}

export const SUBSYSTEM_MODEL = 'stas access path';
