// Numeric constants of NVMe/TCP and NVMe-oF (see /work/shared/spec/nvme-tcp.md).

export const PduType = {
  ICReq: 0x00,
  ICResp: 0x01,
  H2CTermReq: 0x02,
  C2HTermReq: 0x03,
  CapsuleCmd: 0x04,
  CapsuleResp: 0x05,
  H2CData: 0x06,
  C2HData: 0x07,
  R2T: 0x09,
} as const;
export type PduTypeCode = (typeof PduType)[keyof typeof PduType];

export const PDU_TYPE_NAMES: Readonly<Record<number, string>> = {
  0x00: 'ICReq',
  0x01: 'ICResp',
  0x02: 'H2CTermReq',
  0x03: 'C2HTermReq',
  0x04: 'CapsuleCmd',
  0x05: 'CapsuleResp',
  0x06: 'H2CData',
  0x07: 'C2HData',
  0x09: 'R2T',
};

/** Header length (HLEN) of each PDU type. */
export const PDU_HLEN: Readonly<Record<number, number>> = {
  0x00: 128,
  0x01: 128,
  0x02: 24,
  0x03: 24,
  0x04: 72,
  0x05: 24,
  0x06: 24,
  0x07: 24,
  0x09: 24,
};

export const PduFlag = {
  HDGSTF: 0x01,
  DDGSTF: 0x02,
  LAST_PDU: 0x04,
  SUCCESS: 0x08,
} as const;

export const CH_LEN = 8;
export const SQE_LEN = 64;
export const CQE_LEN = 16;
export const DIGEST_LEN = 4;

/** Fused/PSDT byte of every fabrics SQE: PSDT = 01b (SGL). */
export const PSDT_SGL = 0x40;

export const SglId = {
  /** Data Block, subtype Offset: host data inside the capsule */
  InCapsule: 0x01,
  /** Transport SGL Data Block, transport-specific subtype: data moved by C2HData / R2T+H2CData, or no data */
  Transport: 0x5a,
} as const;

export const AdminOpcode = {
  GetLogPage: 0x02,
  Identify: 0x06,
  SetFeatures: 0x09,
  GetFeatures: 0x0a,
  AsyncEventRequest: 0x0c,
  KeepAlive: 0x18,
  /** TP8010 Discovery Information Management */
  DiscoveryInfoMgmt: 0x21,
  Fabrics: 0x7f,
} as const;

export const IoOpcode = {
  Write: 0x01,
  Read: 0x02,
} as const;

export const FabricsType = {
  PropertySet: 0x00,
  Connect: 0x01,
  PropertyGet: 0x04,
  AuthenticationSend: 0x05,
  AuthenticationReceive: 0x06,
} as const;

export const Register = {
  CAP: 0x00,
  VS: 0x08,
  CC: 0x14,
  CSTS: 0x1c,
} as const;

/** CC with EN=1, CSS=0, MPS=0 (4 KiB), AMS=0, IOSQES=6, IOCQES=4: what nvmet accepts. */
export const CC_ENABLE = 0x00460001;
export const CSTS_RDY = 0x1;
export const CSTS_CFS = 0x2;
/** CC.SHN = 01b (normal shutdown), bits 15:14 */
export const CC_SHN_NORMAL = 0x1 << 14;
/** CSTS.SHST bits 3:2; 10b = shutdown complete */
export const CSTS_SHST_MASK = 0x3 << 2;
export const CSTS_SHST_COMPLETE = 0x2 << 2;

export const IdentifyCns = {
  Namespace: 0x00,
  Controller: 0x01,
  ActiveNamespaceList: 0x02,
  NamespaceDescriptors: 0x03,
} as const;

export const LogPageId = {
  SupportedLogPages: 0x00,
  Discovery: 0x70,
} as const;

export const FeatureId = {
  NumberOfQueues: 0x07,
  AsyncEventConfig: 0x0b,
} as const;

/** Set Features 0x0B CDW11 bit 31: Discovery Log Page Change notices. */
export const AEC_DISCOVERY_LOG_CHANGE = 0x80000000;

export const DISCOVERY_NQN = 'nqn.2014-08.org.nvmexpress.discovery';
export const DISCOVERY_LOG_HEADER_LEN = 1024;
export const DISCOVERY_LOG_ENTRY_LEN = 1024;
