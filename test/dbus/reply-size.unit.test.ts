// The reply size bound: never below what dbus-next really marshals (else a reply over the bus limit could slip
// through and the bus would drop the daemon), and close to it (else normal replies would be refused).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import dbus from 'dbus-next';
import {
  completeTypes,
  replyBodyBound,
  wireSizeBound,
  MAX_REPLY_BODY_BYTES,
  BUS_MAX_MESSAGE_BYTES,
} from '../../daemons/dbus/reply-size.js';
import { replyTooLargeErrorName } from '../../daemons/dbus/exported-object.js';

const require = createRequire(import.meta.url);
const { marshallMessage } = require('dbus-next/lib/marshall-compat') as {
  marshallMessage(m: unknown): [Buffer, unknown[]];
};

/** bytes of the body dbus-next writes for `body` with `signature` (message minus an empty-bodied twin) */
function marshalledBody(signature: string, body: unknown[]): number {
  const msg = (sig: string, b: unknown[]): unknown =>
    new dbus.Message({
      type: dbus.MessageType.METHOD_RETURN,
      serial: 7,
      replySerial: 3,
      destination: ':1.42',
      signature: sig,
      body: b,
    } as unknown as ConstructorParameters<typeof dbus.Message>[0]);
  const [full] = marshallMessage(msg(signature, body));
  const bodyLen = full.readUInt32LE(4);
  return bodyLen;
}

const dlpe = (i: number): Record<string, string> => ({
  trtype: 'tcp',
  adrfam: 'ipv4',
  traddr: `10.0.${i >> 8}.${i & 255}`,
  trsvcid: '4420',
  subnqn: `nqn.2024-01.io.example:s${i}`,
  subtype: 'nvme',
  treq: 'disable sqflow',
  portid: String(i),
  cntlid: '65535',
  asqsz: '32',
  eflags: '0',
});

const cases: [string, string, unknown][] = [
  ['s', 'ascii', 'hello'],
  ['s', 'utf-8', 'héllo → wörld'],
  ['s', 'empty', ''],
  ['aa{ss}', 'log pages', Array.from({ length: 300 }, (_, i) => dlpe(i))],
  ['aa{ss}', 'none', []],
  [
    'a{sv}',
    'variants',
    { a: new dbus.Variant('s', 'x'), b: new dbus.Variant('u', 7), c: new dbus.Variant('as', ['p', 'q']) },
  ],
  ['(sub)', 'struct', ['abc', 5, true]],
  ['ay', 'bytes', Buffer.alloc(1000, 1)],
  ['at', 'uint64', [1n, 2n, 3n]],
  [
    'a(sx)',
    'structs',
    [
      ['a', 1n],
      ['bb', 2n],
    ],
  ],
];

for (const [sig, what, value] of cases) {
  test(`bound ≥ marshalled size, and close to it: ${sig} (${what})`, () => {
    const real = marshalledBody(sig, [value]);
    const bound = wireSizeBound(sig, value);
    assert.ok(bound >= real, `bound ${bound} < marshalled ${real}`);
    assert.ok(bound <= real * 1.6 + 32, `bound ${bound} far above marshalled ${real}`);
  });
}

test('a multi-argument reply is the sum of its arguments', () => {
  assert.deepEqual(completeTypes('a{sv}s(ii)aa{ss}'), ['a{sv}', 's', '(ii)', 'aa{ss}']);
  const real = marshalledBody('sas', ['x', ['a', 'b']]);
  assert.ok(replyBodyBound('sas', ['x', ['a', 'b']]) >= real);
  assert.equal(replyBodyBound('', undefined), 0);
});

test("the body limit leaves room for the header under dbus-daemon's 32 MiB", () => {
  assert.equal(BUS_MAX_MESSAGE_BYTES, 33554432);
  assert.ok(MAX_REPLY_BODY_BYTES < BUS_MAX_MESSAGE_BYTES && MAX_REPLY_BODY_BYTES > BUS_MAX_MESSAGE_BYTES - 1024 * 1024);
  // a 100,000-entry log page is over it
  const page = Array.from({ length: 100_000 }, (_, i) => dlpe(i));
  assert.ok(wireSizeBound('aa{ss}', page) > MAX_REPLY_BODY_BYTES);
});

test('the refusal is a named error of the daemon the interface belongs to', () => {
  assert.equal(replyTooLargeErrorName('org.nvmexpress.staf'), 'org.nvmexpress.staf.Error.ReplyTooLarge');
  assert.equal(replyTooLargeErrorName('org.nvmexpress.staf.debug'), 'org.nvmexpress.staf.Error.ReplyTooLarge');
  assert.equal(replyTooLargeErrorName('org.nvmexpress.stac.Storage1'), 'org.nvmexpress.stac.Error.ReplyTooLarge');
});
