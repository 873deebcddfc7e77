// Supported Log Pages (LID 0x00) and Asynchronous Event completion results.
import { need } from './errors.js';

export interface SupportedLogPage {
  lid: number;
  /** LSUPP */
  supported: boolean;
  /** IOS: index offset supported */
  indexOffset: boolean;
  /** LID-specific field, bits 31:16 */
  lidSpecific: number;
}

/** 256 dwords, one per LID; only supported LIDs are returned. */
export function parseSupportedLogPages(b: Buffer): Map<number, SupportedLogPage> {
  need(b, 1024, 'Supported Log Pages');
  const out = new Map<number, SupportedLogPage>();
  for (let lid = 0; lid < 256; lid++) {
    const v = b.readUInt32LE(lid * 4);
    if (v & 1) out.set(lid, { lid, supported: true, indexOffset: (v & 2) !== 0, lidSpecific: v >>> 16 });
  }
  return out;
}

/** What a discovery controller says about LID 0x70's LSP bits (EXTDLPES, PLEOS, ALLSUBES). */
export interface DiscoveryLogSupport {
  supported: boolean;
  extendedEntries: boolean;
  portLocalEntriesOnly: boolean;
  allSubsystemEntries: boolean;
}

export function discoveryLogSupport(pages: Map<number, SupportedLogPage>): DiscoveryLogSupport {
  const p = pages.get(0x70);
  const s = p?.lidSpecific ?? 0;
  return {
    supported: p !== undefined,
    extendedEntries: (s & 1) !== 0,
    portLocalEntriesOnly: (s & 2) !== 0,
    allSubsystemEntries: (s & 4) !== 0,
  };
}

/** Get Log Page LSP bits for LID 0x70. */
export const DiscoveryLsp = { EXTDLPE: 0x1, PLEO: 0x2, ALLSUBE: 0x4 } as const;

const AEN_TYPES: Readonly<Record<number, string>> = {
  0: 'Error',
  1: 'SMART / Health Status',
  2: 'Notice',
  6: 'I/O Command Set Specific',
  7: 'Vendor Specific',
};
const NOTICE_INFO: Readonly<Record<number, string>> = {
  0x00: 'Namespace Attribute Changed',
  0x01: 'Firmware Activation Starting',
  0x02: 'Telemetry Log Changed',
  0x03: 'Asymmetric Namespace Access Change',
  0x04: 'Predictable Latency Event Aggregate Log Change',
  0x05: 'LBA Status Information Alert',
  0x06: 'Endurance Group Event Aggregate Log Page Change',
  0x07: 'Normal NVM Subsystem Shutdown',
  0xf0: 'Discovery Log Page Change',
};

export interface AsyncEvent {
  /** the raw DW0, e.g. 0x0070f002 */
  dw0: number;
  type: number;
  info: number;
  logPage: number;
  description: string;
  /** type 2, info 0xF0, log page 0x70 */
  discoveryLogChange: boolean;
}

export function decodeAsyncEvent(dw0: number): AsyncEvent {
  const type = dw0 & 0x7;
  const info = (dw0 >>> 8) & 0xff;
  const logPage = (dw0 >>> 16) & 0xff;
  const typeName = AEN_TYPES[type] ?? `type ${type}`;
  const infoName = type === 2 ? NOTICE_INFO[info] : undefined;
  return {
    dw0: dw0 >>> 0,
    type,
    info,
    logPage,
    description: `${typeName}: ${infoName ?? `info 0x${info.toString(16)}`} (log page 0x${logPage.toString(16)})`,
    discoveryLogChange: type === 2 && info === 0xf0 && logPage === 0x70,
  };
}
