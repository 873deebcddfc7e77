// TXT parsing of `_nvme-disc` services: nvme-stas's examples (spec §4.5) and hostile input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  WELL_KNOWN_DISC_NQN,
  interpretTxt,
  parseTxtRecords,
  protocolToTransport,
  pyDictRepr,
  subsysnqnFromTxt,
} from '../../daemons/mdns/txt.js';

const rec = (s: string): Uint8Array => Buffer.from(s, 'latin1');
const recs = (...s: string[]): Uint8Array[] => s.map(rec);

test('spec example 1: NqN=Starfleet, p=tcp → keys lower-cased, values kept', () => {
  assert.deepEqual(parseTxtRecords(recs('NqN=Starfleet', 'p=tcp')).fields, { nqn: 'Starfleet', p: 'tcp' });
});

test('spec example 2: Nqn=Starfleet, p=, blah, = → {nqn: Starfleet, p: ""}', () => {
  const r = parseTxtRecords(recs('Nqn=Starfleet', 'p=', 'blah', '='));
  assert.deepEqual(r.fields, { nqn: 'Starfleet', p: '' });
  assert.deepEqual(
    r.problems.map((p) => p.problem),
    ['not key=value', 'empty key'],
  );
});

test('spec example 3: a record with non-printable code points → {}', () => {
  const r = parseTxtRecords([Uint8Array.from([0x4e, 0x71, 0x4e, 0x3d, 0x01, 0x02, 0x7f])]);
  assert.deepEqual(r.fields, {});
  assert.equal(r.problems[0]!.problem, 'non-printable');
});

test('records with two = signs are ignored, not split on the first', () => {
  const r = parseTxtRecords(recs('nqn=a=b', 'p=tcp'));
  assert.deepEqual(r.fields, { p: 'tcp' });
  assert.equal(r.problems.length, 1);
});

test('empty record ignored; value whitespace kept; later record wins', () => {
  const r = parseTxtRecords(recs('', 'NQN= x ', 'nqn=second'));
  assert.deepEqual(r.fields, { nqn: 'second' });
  assert.deepEqual(parseTxtRecords(recs('nqn= x ')).fields, { nqn: ' x ' });
  assert.equal(r.problems.length, 1);
});

test('Python isprintable on Latin-1: C1 controls, NBSP and soft hyphen are not printable; é is', () => {
  for (const bad of [0x00, 0x09, 0x0a, 0x1f, 0x7f, 0x80, 0x9f, 0xa0, 0xad]) {
    const r = parseTxtRecords([Uint8Array.from([0x6b, 0x3d, bad])]);
    assert.deepEqual(r.fields, {}, `byte 0x${bad.toString(16)}`);
  }
  for (const good of [0x20, 0x7e, 0xa1, 0xe9, 0xff]) {
    const r = parseTxtRecords([Uint8Array.from([0x6b, 0x3d, good])]);
    assert.deepEqual(r.fields, { k: String.fromCharCode(good) }, `byte 0x${good.toString(16)}`);
  }
});

test('a huge record (255 bytes and 64 KiB) and 10 000 records are handled without throwing', () => {
  const big = 'nqn=' + 'x'.repeat(251);
  assert.equal(parseTxtRecords(recs(big)).fields.nqn!.length, 251);
  const huge = parseTxtRecords([Buffer.alloc(65536, 0x41)]);
  assert.deepEqual(huge.fields, {});
  assert.ok(huge.problems[0]!.record.length < 300, 'logged form is truncated');
  const many = Array.from({ length: 10_000 }, (_, i) => rec(`k${i}=v`));
  assert.equal(Object.keys(parseTxtRecords(many).fields).length, 10_000);
});

test('p= → transport', () => {
  assert.equal(protocolToTransport('tcp'), 'tcp');
  assert.equal(protocolToTransport(' TCP '), 'tcp');
  for (const p of ['roce', 'iWARP', 'RDMA', ' rdma']) assert.equal(protocolToTransport(p), 'rdma');
  for (const p of [undefined, '', 'udp', 'fc', 'bogus', 'tcp6']) assert.equal(protocolToTransport(p), undefined);
});

test('nqn= only with kernel TP8013 support; default is the well-known NQN', () => {
  assert.equal(subsysnqnFromTxt({ nqn: ' nqn.x ' }, true), 'nqn.x');
  assert.equal(subsysnqnFromTxt({ nqn: 'nqn.x' }, false), WELL_KNOWN_DISC_NQN);
  assert.equal(subsysnqnFromTxt({}, true), WELL_KNOWN_DISC_NQN);
  assert.equal(WELL_KNOWN_DISC_NQN, 'nqn.2014-08.org.nvmexpress.discovery');
});

test('interpretTxt: invalid or missing p → ignored with counted bad records; valid → identity', () => {
  const ctx = { address: '10.0.0.1', ifname: 'eth0', kernelSupportsDiscovery: true };
  const bogus = interpretTxt(recs('p=bogus', 'junk'), ctx);
  assert.equal(bogus.ok, false);
  assert.equal(bogus.badRecords, 1);
  assert.equal(interpretTxt(recs('nqn=nqn.a'), ctx).ok, false);
  const good = interpretTxt(recs('p=RoCE', 'NQN=nqn.a'), ctx);
  assert.deepEqual(good.ok && good.identity, { transport: 'rdma', subsysnqn: 'nqn.a' });
});

test('pyDictRepr prints what nvme-stas logs', () => {
  assert.equal(pyDictRepr({ nqn: 'Starfleet', p: "it's" }), "{'nqn': 'Starfleet', 'p': 'it\\'s'}");
});
