// TP8010 DIM encoder: the command dwords and the data bytes at the offsets the TP8010 text gives (header 1024 bytes,
// one extended DIE of 1032 fixed bytes, then HOSTID and SYMNAME extended attributes), and the decoder round trip.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  dimCommand,
  encodeDimData,
  parseDimData,
  DimTask,
  type DimHostEntry,
} from '../../daemons/nvme/protocol/dim.js';
import { EncodeError, MalformedError } from '../../daemons/nvme/protocol/errors.js';

const HOSTNQN = 'nqn.2014-08.org.nvmexpress:uuid:0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9';
const HOSTID = Buffer.from('0f1e2d3c4b5a49788695a4b3c2d1e0f9', 'hex');

const entry = (over: Partial<DimHostEntry> = {}): DimHostEntry => ({
  hostnqn: HOSTNQN,
  hostId: HOSTID,
  entityName: 'host-a',
  entityVersion: 'Linux 6.1.0 Debian GNU/Linux 12 (bookworm)',
  symname: 'rack7-db',
  adrfam: 1,
  traddr: '',
  ...over,
});

const ascii = (b: Buffer, off: number, len: number): string => b.subarray(off, off + len).toString('latin1');

test('DIM command: opcode 21h, PSDT SGL, TAS in CDW10 bits 3:0, data written host to controller', () => {
  const data = Buffer.alloc(2080);
  for (const [tas, cdw10] of [
    [DimTask.Register, 0],
    [DimTask.Deregister, 1],
    [DimTask.Update, 2],
  ] as const) {
    const cmd = dimCommand(tas, data);
    assert.equal(cmd.sqe.length, 64);
    assert.equal(cmd.sqe[0], 0x21);
    assert.equal(cmd.sqe[1], 0x40);
    assert.equal(cmd.sqe.readUInt32LE(4), 0, 'NSID 0');
    assert.equal(cmd.sqe.readUInt32LE(40), cdw10);
    for (const off of [44, 48, 52, 56, 60]) assert.equal(cmd.sqe.readUInt32LE(off), 0);
    assert.equal(cmd.write, data);
    assert.equal(cmd.readLength, undefined);
    assert.ok(!cmd.fabrics);
  }
  assert.throws(() => dimCommand(16 as never, data), EncodeError);
});

test('DIM data: header, one extended entry and its attributes at the TP8010 offsets', () => {
  const b = encodeDimData(entry());
  // TEL = 1032 fixed + HOSTID exat (4 + 16) + SYMNAME exat (4 + "rack7-db" = 8, already a multiple of 4)
  const tel = 1032 + 20 + 12;
  assert.equal(b.length, 1024 + tel);
  assert.equal(b.readUInt32LE(0), 1024 + tel, 'TDL');
  assert.equal(b.readUInt32LE(4), 0, 'reserved');
  assert.equal(b.readBigUInt64LE(8), 1n, 'NUMENT');
  assert.equal(b.readUInt16LE(16), 2, 'ENTFMT extended');
  assert.equal(b.readUInt16LE(18), 1, 'ETYPE host');
  assert.equal(b[20], 0, 'PORTLCL');
  assert.equal(b.readUInt16LE(22), 0x5f, 'EKTYPE');
  assert.equal(ascii(b, 24, HOSTNQN.length), HOSTNQN, 'EID');
  assert.equal(b[24 + HOSTNQN.length], 0);
  assert.equal(ascii(b, 280, 7), 'host-a\0', 'ENAME');
  assert.equal(ascii(b, 536, 44), 'Linux 6.1.0 Debian GNU/Linux 12 (bookworm)\0\0', 'EVER');
  assert.ok(
    b.subarray(600, 1024).every((x) => x === 0),
    'reserved 600..1023',
  );
  const e = 1024;
  assert.equal(b[e], 3, 'TRTYPE tcp');
  assert.equal(b[e + 1], 1, 'ADRFAM ipv4');
  assert.ok(
    b.subarray(e + 2, e + 256).every((x) => x === 0),
    'SUBTYPE..reserved, TRSVCID empty',
  );
  assert.equal(ascii(b, e + 256, HOSTNQN.length), HOSTNQN, 'DIE NQN');
  assert.ok(
    b.subarray(e + 512, e + 1024).every((x) => x === 0),
    'TRADDR empty (source address), TSAS zero',
  );
  assert.equal(b.readUInt32LE(e + 1024), tel, 'TEL');
  assert.equal(b.readUInt16LE(e + 1028), 2, 'NUMEXAT');
  assert.equal(b.readUInt16LE(e + 1030), 0);
  const x = e + 1032;
  assert.equal(b.readUInt16LE(x), 1, 'EXATTYPE HOSTID');
  assert.equal(b.readUInt16LE(x + 2), 16);
  assert.deepEqual(b.subarray(x + 4, x + 20), HOSTID);
  assert.equal(b.readUInt16LE(x + 20), 2, 'EXATTYPE SYMNAME');
  assert.equal(b.readUInt16LE(x + 22), 8);
  assert.equal(ascii(b, x + 24, 8), 'rack7-db');
});

test('DIM data: SYMNAME is space-padded to 4 bytes; no SYMNAME without a symbolic name; IPv6 family', () => {
  const b = encodeDimData(entry({ symname: 'abcde', adrfam: 2 }));
  const x = 1024 + 1032 + 20;
  assert.equal(b.readUInt16LE(x + 2), 8);
  assert.equal(ascii(b, x + 4, 8), 'abcde   ');
  assert.equal(b[1025], 2);
  for (const symname of [null, undefined, '']) {
    const n = encodeDimData(entry({ symname }));
    assert.equal(n.length, 1024 + 1032 + 20);
    assert.equal(n.readUInt16LE(1024 + 1028), 1, 'NUMEXAT');
    assert.equal(n.readUInt32LE(1024 + 1024), 1052, 'TEL');
  }
});

test('DIM data: over-long names are cut to their fields, bad host ID/NQN rejected', () => {
  const b = encodeDimData(entry({ entityName: 'h'.repeat(400), entityVersion: 'v'.repeat(100) }));
  assert.equal(b[280 + 254], 'h'.charCodeAt(0));
  assert.equal(b[280 + 255], 0, 'ENAME stays NUL-terminated');
  assert.equal(b[536 + 63], 0, 'EVER stays NUL-terminated');
  assert.equal(b[600], 0);
  assert.throws(() => encodeDimData(entry({ hostId: Buffer.alloc(15) })), EncodeError);
  assert.throws(() => encodeDimData(entry({ hostnqn: '' })), EncodeError);
  assert.throws(() => encodeDimData(entry({ hostnqn: 'n'.repeat(224) })), EncodeError);
});

test('DIM data decodes back; truncated or inconsistent data is a MalformedError', () => {
  const b = encodeDimData(entry());
  const d = parseDimData(b);
  assert.equal(d.tdl, b.length);
  assert.deepEqual([d.entfmt, d.etype, d.ektype, d.eid, d.ename], [2, 1, 0x5f, HOSTNQN, 'host-a']);
  assert.equal(d.entries.length, 1);
  assert.deepEqual(d.entries[0], {
    trtype: 3,
    adrfam: 1,
    nqn: HOSTNQN,
    traddr: '',
    tel: b.length - 1024,
    hostId: HOSTID.toString('hex'),
    symname: 'rack7-db',
  });
  assert.throws(() => parseDimData(b.subarray(0, 1000)), /DIM data/);
  const bad = Buffer.from(b);
  bad.writeUInt32LE(5000, 0);
  assert.throws(() => parseDimData(bad), MalformedError);
  const badTel = Buffer.from(b);
  badTel.writeUInt32LE(10, 1024 + 1024);
  assert.throws(() => parseDimData(badTel), MalformedError);
});
