// NVMe completion status (CQE DW3[31:17]) decoded to readable names: generic, command-specific (including the
// fabrics Connect errors, which share SC values 0x80.. with NVM command-specific codes), media and path errors.

const GENERIC: Readonly<Record<number, string>> = {
  0x00: 'Successful Completion',
  0x01: 'Invalid Command Opcode',
  0x02: 'Invalid Field in Command',
  0x03: 'Command ID Conflict',
  0x04: 'Data Transfer Error',
  0x05: 'Commands Aborted due to Power Loss Notification',
  0x06: 'Internal Error',
  0x07: 'Command Abort Requested',
  0x08: 'Command Aborted due to SQ Deletion',
  0x09: 'Command Aborted due to Failed Fused Command',
  0x0a: 'Command Aborted due to Missing Fused Command',
  0x0b: 'Invalid Namespace or Format',
  0x0c: 'Command Sequence Error',
  0x0d: 'Invalid SGL Segment Descriptor',
  0x0e: 'Invalid Number of SGL Descriptors',
  0x0f: 'Data SGL Length Invalid',
  0x10: 'Metadata SGL Length Invalid',
  0x11: 'SGL Descriptor Type Invalid',
  0x12: 'Invalid Use of Controller Memory Buffer',
  0x13: 'PRP Offset Invalid',
  0x14: 'Atomic Write Unit Exceeded',
  0x15: 'Operation Denied',
  0x16: 'SGL Offset Invalid',
  0x18: 'Host Identifier Inconsistent Format',
  0x19: 'Keep Alive Timer Expired',
  0x1a: 'Keep Alive Timeout Invalid',
  0x1b: 'Command Aborted due to Preempt and Abort',
  0x1c: 'Sanitize Failed',
  0x1d: 'Sanitize In Progress',
  0x1e: 'SGL Data Block Granularity Invalid',
  0x1f: 'Command Not Supported for Queue in CMB',
  0x20: 'Namespace is Write Protected',
  0x21: 'Command Interrupted',
  0x22: 'Transient Transport Error',
  0x23: 'Command Prohibited by Command and Feature Lockdown',
  0x24: 'Admin Command Media Not Ready',
  0x80: 'LBA Out of Range',
  0x81: 'Capacity Exceeded',
  0x82: 'Namespace Not Ready',
  0x83: 'Reservation Conflict',
  0x84: 'Format In Progress',
};

const COMMAND_SPECIFIC: Readonly<Record<number, string>> = {
  0x00: 'Completion Queue Invalid',
  0x01: 'Invalid Queue Identifier',
  0x02: 'Invalid Queue Size',
  0x03: 'Abort Command Limit Exceeded',
  0x05: 'Asynchronous Event Request Limit Exceeded',
  0x06: 'Invalid Firmware Slot',
  0x07: 'Invalid Firmware Image',
  0x08: 'Invalid Interrupt Vector',
  0x09: 'Invalid Log Page',
  0x0a: 'Invalid Format',
  0x0b: 'Firmware Activation Requires Conventional Reset',
  0x0c: 'Invalid Queue Deletion',
  0x0d: 'Feature Identifier Not Saveable',
  0x0e: 'Feature Not Changeable',
  0x0f: 'Feature Not Namespace Specific',
  0x10: 'Firmware Activation Requires NVM Subsystem Reset',
  0x11: 'Firmware Activation Requires Controller Level Reset',
  0x12: 'Firmware Activation Requires Maximum Time Violation',
  0x13: 'Firmware Activation Prohibited',
  0x14: 'Overlapping Range',
  0x15: 'Namespace Insufficient Capacity',
  0x16: 'Namespace Identifier Unavailable',
  0x18: 'Namespace Already Attached',
  0x19: 'Namespace Is Private',
  0x1a: 'Namespace Not Attached',
  0x1b: 'Thin Provisioning Not Supported',
  0x1c: 'Controller List Invalid',
  0x1d: 'Device Self-test In Progress',
  0x1e: 'Boot Partition Write Prohibited',
  0x1f: 'Invalid Controller Identifier',
  0x20: 'Invalid Secondary Controller State',
  0x21: 'Invalid Number of Controller Resources',
  0x22: 'Invalid Resource Identifier',
  0x23: 'Sanitize Prohibited While Persistent Memory Region is Enabled',
  0x24: 'ANA Group Identifier Invalid',
  0x25: 'ANA Attach Failed',
  0x26: 'Insufficient Capacity',
  0x27: 'Namespace Attachment Limit Exceeded',
  0x28: 'Prohibition of Command Execution Not Supported',
  0x29: 'I/O Command Set Not Supported',
  0x2a: 'I/O Command Set Not Enabled',
  0x2b: 'I/O Command Set Combination Rejected',
  0x2c: 'Invalid I/O Command Set',
  0x2d: 'Identifier Unavailable',
  // NVM command set specific
  0x80: 'Conflicting Attributes',
  0x81: 'Invalid Protection Information',
  0x82: 'Attempted Write to Read Only Range',
};

/** Command-specific codes of fabrics commands (Connect, Property Get/Set, ...). */
const FABRICS_SPECIFIC: Readonly<Record<number, string>> = {
  0x80: 'Incompatible Format',
  0x81: 'Controller Busy',
  0x82: 'Connect Invalid Parameters',
  0x83: 'Connect Restart Discovery',
  0x84: 'Connect Invalid Host',
  0x85: 'Invalid Queue Type',
  0x90: 'Discover Restart',
  0x91: 'Authentication Required',
};

const MEDIA: Readonly<Record<number, string>> = {
  0x80: 'Write Fault',
  0x81: 'Unrecovered Read Error',
  0x82: 'End-to-end Guard Check Error',
  0x83: 'End-to-end Application Tag Check Error',
  0x84: 'End-to-end Reference Tag Check Error',
  0x85: 'Compare Failure',
  0x86: 'Access Denied',
  0x87: 'Deallocated or Unwritten Logical Block',
};

const PATH: Readonly<Record<number, string>> = {
  0x00: 'Internal Path Error',
  0x01: 'Asymmetric Access Persistent Loss',
  0x02: 'Asymmetric Access Inaccessible',
  0x03: 'Asymmetric Access Transition',
  0x60: 'Controller Pathing Error',
  0x70: 'Host Pathing Error',
  0x71: 'Command Aborted By Host',
};

export const SCT_NAMES: Readonly<Record<number, string>> = {
  0: 'Generic',
  1: 'Command Specific',
  2: 'Media and Data Integrity',
  3: 'Path Related',
  7: 'Vendor Specific',
};

/** CQE status field (bytes 14..15) split into its parts; the phase bit is dropped. */
export interface NvmeStatus {
  /** Status Code Type */
  sct: number;
  /** Status Code */
  sc: number;
  /** Command Retry Delay index */
  crd: number;
  more: boolean;
  /** Do Not Retry */
  dnr: boolean;
}

export function splitStatus(raw: number): NvmeStatus {
  return {
    sc: (raw >> 1) & 0xff,
    sct: (raw >> 9) & 0x7,
    crd: (raw >> 12) & 0x3,
    more: (raw & 0x4000) !== 0,
    dnr: (raw & 0x8000) !== 0,
  };
}

/** A readable name of a status; `fabrics` selects the fabrics meaning of command-specific codes 0x80... */
export function statusName(sct: number, sc: number, fabrics = false): string {
  let name: string | undefined;
  if (sct === 0) name = GENERIC[sc];
  else if (sct === 1) name = (fabrics ? FABRICS_SPECIFIC[sc] : undefined) ?? COMMAND_SPECIFIC[sc];
  else if (sct === 2) name = MEDIA[sc];
  else if (sct === 3) name = PATH[sc];
  const hex = `SCT=0x${sct.toString(16)} SC=0x${sc.toString(16).padStart(2, '0')}`;
  return name ? `${name} (${hex})` : `${SCT_NAMES[sct] ?? 'Reserved'} status (${hex})`;
}

const CONNECT_DATA_FIELDS: ReadonlyArray<[number, string]> = [
  [0, 'HOSTID'],
  [16, 'CNTLID'],
  [256, 'SUBNQN'],
  [512, 'HOSTNQN'],
];
const CONNECT_SQE_FIELDS: ReadonlyArray<[number, string]> = [
  [40, 'RECFMT'],
  [42, 'QID'],
  [44, 'SQSIZE'],
  [46, 'CATTR'],
  [48, 'KATO'],
];

/**
 * For Connect Invalid Parameters, DW0 says which parameter was wrong: IPO (bytes 1:0, the byte offset) and
 * IATTR (byte 2 bit 0: 0 = SQE, 1 = Connect data), as nvmet sets them. Returns e.g. "SUBNQN (Connect data byte 256)".
 */
export function connectInvalidParameter(dw0: number): string {
  const inData = ((dw0 >>> 16) & 1) !== 0;
  const ipo = dw0 & 0xffff;
  const table = inData ? CONNECT_DATA_FIELDS : CONNECT_SQE_FIELDS;
  let field = '?';
  for (const [off, name] of table) if (ipo >= off) field = name;
  return `${field} (${inData ? 'Connect data' : 'SQE'} byte ${ipo})`;
}
