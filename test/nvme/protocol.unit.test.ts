// Byte-level tests of the pure NVMe/TCP codecs, with the vectors of /work/shared/spec/nvme-tcp.md.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CC_ENABLE,
  DigestError,
  MalformedError,
  ProtocolError,
  TruncatedError,
  concatSegments,
  connectCommand,
  connectInvalidParameter,
  crc32c,
  decodeAsyncEvent,
  decodeCqe,
  decodeDiscoveryLog,
  decodePdu,
  decodeSqe,
  discoveryLogSupport,
  dlpeDict,
  encodeC2HData,
  encodeCapsuleCmd,
  encodeCapsuleResp,
  encodeCqe,
  encodeDiscoveryLog,
  encodeH2CData,
  encodeIcReq,
  encodeR2T,
  encodeSqe,
  encodeTermReq,
  getLogPageCommand,
  getLogPageDwords,
  identifyCommand,
  parseActiveNamespaceList,
  parseIdentifyController,
  parseIdentifyNamespace,
  parseNamespaceDescriptors,
  parseSupportedLogPages,
  pduLength,
  propertyGetCommand,
  propertySetCommand,
  readCommand,
  setSgl1,
  splitStatus,
  statusName,
  writeCommand,
} from '../../daemons/nvme/protocol/index.js';

const DIG = { hdgst: true, ddgst: true };
const NONE = { hdgst: false, ddgst: false };

describe('CRC32C', () => {
  it('matches the Castagnoli check value and the iSCSI vectors', () => {
    assert.equal(crc32c('123456789'), 0xe3069283);
    assert.equal(crc32c(Buffer.alloc(32, 0)), 0x8a9136aa);
    assert.equal(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43);
    assert.equal(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => i))), 0x46dd794e);
    assert.equal(crc32c(Buffer.alloc(0)), 0);
  });
  it('gives the same result for every split of odd lengths (slicing-by-8 tail handling)', () => {
    const b = Buffer.from(Array.from({ length: 37 }, (_, i) => (i * 7 + 3) & 0xff));
    let ref = 0xffffffff;
    for (const x of b) {
      ref ^= x;
      for (let k = 0; k < 8; k++) ref = ref & 1 ? (ref >>> 1) ^ 0x82f63b78 : ref >>> 1;
    }
    assert.equal(crc32c(b), (ref ^ 0xffffffff) >>> 0);
  });
});

describe('PDU encoders', () => {
  it('ICReq: PLEN 128, PFV 0, HPDA 0, DGST bits, MAXR2T 0', () => {
    const b = encodeIcReq({ hdgst: true, ddgst: false });
    assert.equal(b.length, 128);
    assert.deepEqual([...b.subarray(0, 16)], [0x00, 0, 128, 0, 128, 0, 0, 0, 0, 0, 0, 0x01, 0, 0, 0, 0]);
    assert.ok(b.subarray(16).every((x) => x === 0));
    assert.equal(encodeIcReq({ hdgst: true, ddgst: true })[11], 3);
  });

  it('CapsuleCmd without digests: HLEN 72, PDO 72, PLEN 72 + data', () => {
    const sqe = encodeSqe({ opc: 0x7f, fctype: 1 });
    const data = Buffer.alloc(1024, 0xaa);
    const segs = encodeCapsuleCmd(sqe, data, NONE);
    const b = concatSegments(segs);
    assert.equal(b[0], 0x04);
    assert.equal(b[1], 0);
    assert.equal(b[2], 72);
    assert.equal(b[3], 72);
    assert.equal(b.readUInt32LE(4), 72 + 1024);
    assert.equal(segs[1], data, 'payload is passed through, not copied');
  });

  it('CapsuleCmd with header+data digests: PDO 76, PLEN 76 + len + 4, flags 0x03', () => {
    const sqe = encodeSqe({ opc: 0x01, nsid: 1 });
    const data = Buffer.from('hello world!');
    const b = concatSegments(encodeCapsuleCmd(sqe, data, DIG));
    assert.equal(b[1], 0x03);
    assert.equal(b[3], 76);
    assert.equal(b.readUInt32LE(4), 76 + data.length + 4);
    assert.equal(b.readUInt32LE(72), crc32c(b.subarray(0, 72)));
    assert.equal(b.readUInt32LE(76 + data.length), crc32c(data));
    const d = decodePdu(b, DIG);
    assert.equal(d.kind, 'CapsuleCmd');
    if (d.kind === 'CapsuleCmd') assert.deepEqual(d.data, data);
  });

  it('CapsuleCmd without data but with hdgst: PDO 0, PLEN 76', () => {
    const b = concatSegments(encodeCapsuleCmd(encodeSqe({ opc: 0x18 }), undefined, DIG));
    assert.equal(b[3], 0);
    assert.equal(b.readUInt32LE(4), 76);
    assert.equal(b[1], 0x01);
  });

  it('CapsuleResp with hdgst is 28 bytes and round-trips the CQE', () => {
    const cqe = encodeCqe({ cid: 0x1234, dw0: 0x0070f002, sqhd: 5, sct: 1, sc: 0x82, dnr: true });
    const b = concatSegments(encodeCapsuleResp(cqe, DIG));
    assert.equal(b.length, 28);
    assert.equal(b.readUInt32LE(4), 28);
    const d = decodePdu(b, DIG);
    assert.equal(d.kind, 'CapsuleResp');
    if (d.kind !== 'CapsuleResp') return;
    const c = decodeCqe(d.cqe);
    assert.equal(c.cid, 0x1234);
    assert.equal(c.dw0, 0x0070f002);
    assert.equal(c.sct, 1);
    assert.equal(c.sc, 0x82);
    assert.equal(c.dnr, true);
    assert.equal(c.ok, false);
  });

  it('data alignment with CPDA: data starts at a multiple of (CPDA+1)*4', () => {
    const b = concatSegments(
      encodeH2CData({ cccid: 1, ttag: 2, datao: 0, last: true }, Buffer.alloc(8, 1), {
        hdgst: true,
        ddgst: false,
        pda: 7,
      }),
    );
    assert.equal(b[3], 32); // 24 + 4 digest = 28 → 32
    assert.equal(b.readUInt32LE(4), 40);
    const d = decodePdu(b, { hdgst: true, ddgst: false });
    assert.equal(d.kind, 'H2CData');
  });

  it('H2CData / C2HData / R2T fields', () => {
    const h = concatSegments(encodeH2CData({ cccid: 7, ttag: 9, datao: 4096, last: true }, Buffer.alloc(16, 2), NONE));
    assert.deepEqual([h[0], h[1], h[2], h[3]], [0x06, 0x04, 24, 24]);
    assert.equal(h.readUInt16LE(8), 7);
    assert.equal(h.readUInt16LE(10), 9);
    assert.equal(h.readUInt32LE(12), 4096);
    assert.equal(h.readUInt32LE(16), 16);
    const c = concatSegments(encodeC2HData({ cccid: 3, datao: 0, last: true, success: true }, Buffer.alloc(4), NONE));
    assert.equal(c[1], 0x0c);
    const dc = decodePdu(c);
    assert.ok(dc.kind === 'C2HData' && dc.success && dc.last);
    const r = concatSegments(encodeR2T({ cccid: 3, ttag: 1, r2to: 0, r2tl: 65536 }, NONE));
    assert.equal(r.length, 24);
    assert.deepEqual(decodePdu(r), { kind: 'R2T', cccid: 3, ttag: 1, r2to: 0, r2tl: 65536 });
  });

  it('TermReq carries FES/FEI and the offending header', () => {
    const t = encodeTermReq('C2H', 0x03, 0x10, Buffer.alloc(24, 0x44));
    assert.equal(t[0], 0x03);
    assert.equal(t.readUInt32LE(4), 48);
    const d = decodePdu(t);
    assert.ok(d.kind === 'C2HTermReq' && d.fes === 3 && d.fei === 0x10 && d.data.length === 24);
  });
});

describe('PDU decoder rejects bad input with typed errors', () => {
  it('framing: unknown type, wrong HLEN, PLEN < HLEN, PLEN over limit', () => {
    assert.equal(pduLength(Buffer.alloc(7)), -1);
    assert.throws(() => pduLength(Buffer.from('HTTP/1.1 400')), MalformedError);
    assert.throws(() => pduLength(Buffer.from([0x05, 0, 25, 0, 28, 0, 0, 0])), /HLEN/);
    assert.throws(() => pduLength(Buffer.from([0x05, 0, 24, 0, 20, 0, 0, 0])), /PLEN/);
    assert.throws(() => pduLength(Buffer.from([0x07, 0, 24, 24, 0xff, 0xff, 0xff, 0x7f]), 0, 1 << 20), /limit/);
  });
  it('digest mismatches and flag/negotiation mismatches', () => {
    const b = concatSegments(encodeCapsuleResp(encodeCqe({ cid: 1 }), DIG));
    b[10] ^= 1;
    assert.throws(() => decodePdu(b, DIG), DigestError);
    const c = concatSegments(encodeC2HData({ cccid: 1, datao: 0, last: true }, Buffer.alloc(64, 9), DIG));
    c[40] ^= 0x80;
    assert.throws(
      () => decodePdu(c, DIG),
      (e: unknown) => e instanceof DigestError && e.kind === 'data',
    );
    const n = concatSegments(encodeCapsuleResp(encodeCqe({ cid: 1 }), NONE));
    assert.throws(() => decodePdu(n, DIG), /HDGSTF clear/);
    assert.throws(() => decodePdu(concatSegments(encodeCapsuleResp(encodeCqe({ cid: 1 }), DIG)), NONE), /HDGSTF set/);
  });
  it('truncated PDU and DATAL disagreement', () => {
    const c = concatSegments(encodeC2HData({ cccid: 1, datao: 0, last: true }, Buffer.alloc(64), NONE));
    assert.throws(() => decodePdu(c.subarray(0, 50)), TruncatedError);
    c.writeUInt32LE(63, 16);
    assert.throws(() => decodePdu(c), /DATAL/);
  });
});

describe('SQE / SGL / commands', () => {
  it('every SQE has PSDT=01b (0x40) and SGL1 as NVMe/TCP wants it', () => {
    const s = encodeSqe({ opc: 0x06, cdw10: 1 });
    assert.equal(s[1], 0x40);
    setSgl1(s, 0x5a, 4096);
    assert.deepEqual([...s.subarray(24, 40)], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0x5a]);
    setSgl1(s, 0x01, 1024);
    assert.equal(s[39], 0x01);
    assert.equal(decodeSqe(s).sgl.length, 1024);
    assert.throws(() => setSgl1(s, 0x02, 1), ProtocolError);
  });

  it('Connect: SQE fields and the 1024-byte data', () => {
    const hostId = Buffer.from('0123456789abcdef0123456789abcdef', 'hex');
    const c = connectCommand({
      qid: 0,
      sqsize: 31,
      katoMs: 5000,
      disableSqFlow: true,
      hostId,
      cntlid: 0xffff,
      subnqn: 'nqn.2014-08.org.nvmexpress.discovery',
      hostnqn: 'nqn.2014-08.org.nvmexpress:uuid:x',
    });
    assert.equal(c.sqe[0], 0x7f);
    assert.equal(c.sqe[4], 0x01);
    assert.equal(c.sqe.readUInt16LE(40), 0);
    assert.equal(c.sqe.readUInt16LE(42), 0);
    assert.equal(c.sqe.readUInt16LE(44), 31);
    assert.equal(c.sqe[46], 0x04);
    assert.equal(c.sqe.readUInt32LE(48), 5000);
    const d = c.write!;
    assert.equal(d.length, 1024);
    assert.deepEqual(d.subarray(0, 16), hostId);
    assert.equal(d.readUInt16LE(16), 0xffff);
    assert.equal(d.toString('utf8', 256, 256 + 36), 'nqn.2014-08.org.nvmexpress.discovery');
    assert.equal(d[256 + 36], 0);
    assert.equal(d.toString('utf8', 512, 512 + 33), 'nqn.2014-08.org.nvmexpress:uuid:x');
    assert.throws(
      () => connectCommand({ qid: 0, sqsize: 31, hostId: Buffer.alloc(3), cntlid: 0xffff, subnqn: 'a', hostnqn: 'b' }),
      ProtocolError,
    );
    assert.throws(
      () => connectCommand({ qid: 0, sqsize: 31, hostId, cntlid: 0xffff, subnqn: 'n'.repeat(224), hostnqn: 'b' }),
      /SUBNQN/,
    );
  });

  it('Property Get/Set and the CC enable value', () => {
    const g = propertyGetCommand(0x00, 8);
    assert.equal(g.sqe[4], 0x04);
    assert.equal(g.sqe[40], 1);
    assert.equal(g.sqe.readUInt32LE(44), 0);
    const s = propertySetCommand(0x14, CC_ENABLE);
    assert.equal(s.sqe[4], 0x00);
    assert.equal(s.sqe.readUInt32LE(44), 0x14);
    assert.equal(s.sqe.readBigUInt64LE(48), 0x00460001n);
  });

  it('Get Log Page dwords: LID | LSP<<8 | RAE<<15 | NUMDL<<16, NUMDU | LSI<<16, offset', () => {
    assert.deepEqual(getLogPageDwords({ lid: 0x70, length: 1024 }), {
      cdw10: 0x00ff0070,
      cdw11: 0,
      cdw12: 0,
      cdw13: 0,
    });
    assert.equal(getLogPageDwords({ lid: 0x70, length: 1024, rae: true }).cdw10, 0x00ff8070);
    assert.equal(getLogPageDwords({ lid: 0x70, length: 1024, lsp: 2 }).cdw10, 0x00ff0270);
    const big = getLogPageDwords({ lid: 0x70, length: 4 * 0x20000, offset: 0x100000000 + 1024, lsi: 3 });
    assert.equal(big.cdw10 >>> 16, 0xffff);
    assert.equal(big.cdw11, 0x1 | (3 << 16));
    assert.equal(big.cdw12, 1024);
    assert.equal(big.cdw13, 1);
    assert.throws(() => getLogPageDwords({ lid: 0x70, length: 6 }), ProtocolError);
    assert.throws(() => getLogPageDwords({ lid: 0x70, length: 8, offset: 2 }), ProtocolError);
    assert.equal(getLogPageCommand({ lid: 0x70, length: 2048 }).readLength, 2048);
  });

  it('Read/Write: SLBA in CDW10/11, NLB 0-based in CDW12, length from the LBA size', () => {
    const r = readCommand({ nsid: 1, slba: 0x1_0000_0002n, blocks: 16 }, 4096);
    assert.equal(r.sqe[0], 0x02);
    assert.equal(r.sqe.readUInt32LE(4), 1);
    assert.equal(r.sqe.readUInt32LE(40), 2);
    assert.equal(r.sqe.readUInt32LE(44), 1);
    assert.equal(r.sqe.readUInt32LE(48), 15);
    assert.equal(r.readLength, 65536);
    assert.throws(() => writeCommand({ nsid: 1, slba: 0, blocks: 2 }, Buffer.alloc(4096), 4096), /need 8192/);
    assert.equal(identifyCommand(1).readLength, 4096);
  });
});

describe('status codes', () => {
  it('splits the status half-word and names generic, command-specific and fabrics codes', () => {
    const st = splitStatus((0x0f << 1) | 0x8000 | 1);
    assert.deepEqual(st, { sc: 0x0f, sct: 0, crd: 0, more: false, dnr: true });
    assert.equal(statusName(0, 0x0f), 'Data SGL Length Invalid (SCT=0x0 SC=0x0f)');
    assert.equal(statusName(1, 0x82, true), 'Connect Invalid Parameters (SCT=0x1 SC=0x82)');
    assert.equal(statusName(1, 0x82, false), 'Attempted Write to Read Only Range (SCT=0x1 SC=0x82)');
    assert.equal(statusName(1, 0x84, true), 'Connect Invalid Host (SCT=0x1 SC=0x84)');
    assert.equal(statusName(2, 0x81), 'Unrecovered Read Error (SCT=0x2 SC=0x81)');
    assert.equal(statusName(0, 0x7e), 'Generic status (SCT=0x0 SC=0x7e)');
    // nvmet: IPO_IATTR_CONNECT_DATA(x) = 1 << 16 | offset, IPO_IATTR_CONNECT_SQE(x) = offset
    assert.equal(connectInvalidParameter((1 << 16) | 256), 'SUBNQN (Connect data byte 256)');
    assert.equal(connectInvalidParameter((1 << 16) | 512), 'HOSTNQN (Connect data byte 512)');
    assert.equal(connectInvalidParameter(42), 'QID (SQE byte 42)');
  });
  it('AEN 0x0070F002 is a discovery log page change', () => {
    const a = decodeAsyncEvent(0x0070f002);
    assert.equal(a.type, 2);
    assert.equal(a.info, 0xf0);
    assert.equal(a.logPage, 0x70);
    assert.equal(a.discoveryLogChange, true);
    assert.equal(a.description, 'Notice: Discovery Log Page Change (log page 0x70)');
    assert.equal(decodeAsyncEvent(0x00020002).discoveryLogChange, false);
  });
});

describe('Identify structures', () => {
  it('controller fields at their offsets (nvmet NVM subsystem values)', () => {
    const b = Buffer.alloc(4096);
    b.write('NVT0000000000001    ', 4, 'latin1');
    b.write('nvt-test-subsys1'.padEnd(40, ' '), 24, 'latin1');
    b.write('6.1.0-56', 64, 'latin1');
    b[77] = 0;
    b.writeUInt16LE(2, 78);
    b.writeUInt32LE(0x10300, 80);
    b[111] = 1;
    b.writeUInt16LE(1, 320);
    b.writeUInt32LE(1024, 516);
    b.write('nqn.2024-01.io.example:subsys1', 768, 'utf8');
    b.writeUInt32LE(1028, 1792);
    b.writeUInt32LE(1, 1796);
    b[1806] = 2;
    const c = parseIdentifyController(b);
    assert.equal(c.sn, 'NVT0000000000001');
    assert.equal(c.mn, 'nvt-test-subsys1');
    assert.equal(c.fr, '6.1.0-56');
    assert.equal(c.cntlid, 2);
    assert.equal(c.ver, 0x10300);
    assert.equal(c.nn, 1024);
    assert.equal(c.subnqn, 'nqn.2024-01.io.example:subsys1');
    assert.equal(c.ioccsz, 1028);
    assert.equal(c.iorcsz, 1);
    assert.equal(c.kas, 1);
    assert.equal(c.dctype, 2);
    assert.throws(() => parseIdentifyController(b.subarray(0, 100)), TruncatedError);
  });
  it('namespace: LBA size from LBAF[FLBAS].LBADS (4096 on tmpfs-backed nvmet namespaces)', () => {
    const b = Buffer.alloc(4096);
    b.writeBigUInt64LE(16384n, 0);
    b[25] = 1;
    b[26] = 1;
    b.writeUInt32LE(9 << 16, 128);
    b.writeUInt32LE(12 << 16, 132);
    const n = parseIdentifyNamespace(b);
    assert.equal(n.lbaSize, 4096);
    assert.equal(n.sizeBytes, 64n * 1024n * 1024n);
    b[26] = 0;
    assert.equal(parseIdentifyNamespace(b).lbaSize, 512);
    b[26] = 5; // format 5 does not exist
    assert.throws(() => parseIdentifyNamespace(b), MalformedError);
  });
  it('active NSID list and NS identification descriptors', () => {
    const l = Buffer.alloc(4096);
    l.writeUInt32LE(1, 0);
    l.writeUInt32LE(2, 4);
    assert.deepEqual(parseActiveNamespaceList(l), [1, 2]);
    const d = Buffer.alloc(4096);
    d[0] = 3;
    d[1] = 16;
    Buffer.from('0011223344554677a8899aabbccddeef', 'hex').copy(d, 4);
    d[20] = 4;
    d[21] = 1;
    d[24] = 0;
    assert.deepEqual(parseNamespaceDescriptors(d), [
      { type: 3, typeName: 'uuid', value: '00112233-4455-4677-a889-9aabbccddeef' },
      { type: 4, typeName: 'csi', value: '0' },
    ]);
    d[1] = 15;
    assert.throws(() => parseNamespaceDescriptors(d), MalformedError);
  });
  it('supported log pages: LID 0x70 LSP support bits', () => {
    const b = Buffer.alloc(1024);
    b.writeUInt32LE(1, 0);
    b.writeUInt32LE(1 | (0x6 << 16), 0x70 * 4);
    const m = parseSupportedLogPages(b);
    assert.deepEqual([...m.keys()], [0x00, 0x70]);
    assert.deepEqual(discoveryLogSupport(m), {
      supported: true,
      extendedEntries: false,
      portLocalEntriesOnly: true,
      allSubsystemEntries: true,
    });
  });
});

describe('discovery log page', () => {
  function entryBytes(fill: (e: Buffer) => void): Buffer {
    const log = Buffer.alloc(2048);
    log.writeBigUInt64LE(9n, 0);
    log.writeBigUInt64LE(1n, 8);
    fill(log.subarray(1024));
    return log;
  }

  it('decodes every field and trims space/NUL padding (nvmet pads TRSVCID/TRADDR with spaces)', () => {
    const log = entryBytes((e) => {
      e[0] = 3;
      e[1] = 1;
      e[2] = 3;
      e[3] = 4;
      e.writeUInt16LE(2, 4);
      e.writeUInt16LE(0xffff, 6);
      e.writeUInt16LE(32, 8);
      e.writeUInt16LE(4, 10);
      e.fill(0x20, 32, 64);
      e.write('8009', 32, 'latin1');
      e.write('nqn.2014-08.org.nvmexpress.discovery', 256, 'utf8');
      e.fill(0x20, 512, 768);
      e.write('10.0.2.15', 512, 'latin1');
      e[768] = 0;
    });
    const d = decodeDiscoveryLog(log);
    assert.equal(d.genctr, 9n);
    assert.equal(d.numrec, 1n);
    const e = d.entries[0]!;
    assert.equal(e.trsvcid, '8009');
    assert.equal(e.traddr, '10.0.2.15');
    assert.equal(e.eflags, 4);
    const dict = dlpeDict(e);
    assert.deepEqual(Object.keys(dict), [
      'trtype',
      'adrfam',
      'traddr',
      'trsvcid',
      'subnqn',
      'subtype',
      'treq',
      'portid',
      'cntlid',
      'asqsz',
      'eflags',
    ]);
    assert.deepEqual(dict, {
      trtype: 'tcp',
      adrfam: 'ipv4',
      traddr: '10.0.2.15',
      trsvcid: '8009',
      subnqn: 'nqn.2014-08.org.nvmexpress.discovery',
      subtype: 'discovery',
      treq: 'disable sqflow',
      portid: '2',
      cntlid: '65535',
      asqsz: '32',
      eflags: '4',
    });
    assert.equal(dlpeDict(e, { tsas: true }).tsas, "{'sectype': 'none'}");
  });

  it('maps codes the way nvme-stas prints them; unknown values as decimal', () => {
    const cases: [Partial<Record<'trtype' | 'adrfam' | 'subtype' | 'treq', number>>, Record<string, string>][] = [
      [
        { trtype: 1, adrfam: 2, subtype: 1, treq: 0 },
        { trtype: 'rdma', adrfam: 'ipv6', subtype: 'referral', treq: 'not specified' },
      ],
      [
        { trtype: 2, adrfam: 4, subtype: 2, treq: 1 },
        { trtype: 'fc', adrfam: 'fc', subtype: 'nvme', treq: 'required' },
      ],
      [
        { trtype: 254, adrfam: 3, subtype: 3, treq: 2 },
        { trtype: 'loop', adrfam: 'infiniband', subtype: 'discovery', treq: 'not required' },
      ],
      [
        { trtype: 0, adrfam: 0, subtype: 9, treq: 5 },
        { trtype: 'unspecified', adrfam: 'pci', subtype: '9', treq: '5' },
      ],
      [
        { trtype: 7, adrfam: 254, subtype: 0, treq: 6 },
        { trtype: '7', adrfam: '254', subtype: '0', treq: '6' },
      ],
    ];
    for (const [f, want] of cases) {
      const log = encodeDiscoveryLog(1n, [{ ...f, trsvcid: '4420', subnqn: 'nqn.x', traddr: '::1' }]);
      const d = dlpeDict(decodeDiscoveryLog(log).entries[0]!);
      for (const k of Object.keys(want)) assert.equal(d[k], want[k], `${k} for ${JSON.stringify(f)}`);
    }
    const rdma = encodeDiscoveryLog(1n, [{ trtype: 1, trsvcid: '4420', subnqn: 'n', traddr: 'a' }]);
    rdma[1024 + 768] = 1;
    rdma[1024 + 769] = 4;
    rdma[1024 + 770] = 1;
    assert.equal(
      dlpeDict(decodeDiscoveryLog(rdma).entries[0]!, { tsas: true }).tsas,
      "{'qptype': 'connected', 'prtype': 'rocev2', 'cms': 'cm'}",
    );
  });

  it('rejects a log shorter than NUMREC says and absurd NUMREC', () => {
    const log = encodeDiscoveryLog(3n, [
      { trsvcid: '1', subnqn: 'a', traddr: 'b' },
      { trsvcid: '1', subnqn: 'a', traddr: 'b' },
    ]);
    assert.throws(() => decodeDiscoveryLog(log.subarray(0, 2048)), TruncatedError);
    log.writeBigUInt64LE(1n << 40n, 8);
    assert.throws(() => decodeDiscoveryLog(log), /NUMREC/);
  });
});
