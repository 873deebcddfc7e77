// The QMP wire framing on its own: lines split across chunks, the four message kinds, bad input named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  LineSplitter,
  parseQmpLine,
  encodeQmpCommand,
  QmpProtocolError,
} from '../../daemons/volumes/storage-daemon/framing.js';

test('QMP lines: CRLF, split chunks and blank lines', () => {
  const s = new LineSplitter();
  assert.deepEqual(s.push('{"return": {}, "id": "a"}\r\n{"ev'), ['{"return": {}, "id": "a"}']);
  assert.deepEqual(s.push('ent": "X"}\r\n\r\n'), ['{"event": "X"}']);
  assert.deepEqual(s.push(''), []);
});

test('QMP messages: greeting, return, error, event', () => {
  const g = parseQmpLine(
    '{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": ""}, "capabilities": ["oob"]}}',
  );
  assert.deepEqual(g, { kind: 'greeting', version: '7.2.22', capabilities: ['oob'] });
  assert.deepEqual(parseQmpLine('{"return": [1, 2], "id": "stas-3"}'), { kind: 'return', id: 'stas-3', value: [1, 2] });
  assert.deepEqual(parseQmpLine('{"return": {}}'), { kind: 'return', id: undefined, value: {} });
  assert.deepEqual(
    parseQmpLine('{"id": "stas-4", "error": {"class": "GenericError", "desc": "Node \'x\' not found"}}'),
    {
      kind: 'error',
      id: 'stas-4',
      errorClass: 'GenericError',
      desc: "Node 'x' not found",
    },
  );
  const ev = parseQmpLine(
    '{"timestamp": {"seconds": 1700000000, "microseconds": 500000}, "event": "BLOCK_JOB_COMPLETED", "data": {"device": "j", "len": 10, "offset": 10}}',
  );
  assert.equal(ev.kind, 'event');
  if (ev.kind === 'event') {
    assert.equal(ev.event, 'BLOCK_JOB_COMPLETED');
    assert.equal(ev.timestamp, 1700000000.5);
    assert.deepEqual(ev.data, { device: 'j', len: 10, offset: 10 });
  }
});

test('QMP: what is not QMP is a named protocol error', () => {
  assert.throws(
    () => parseQmpLine('hello'),
    (e: Error) => e instanceof QmpProtocolError && /not JSON: hello/.test(e.message),
  );
  assert.throws(
    () => parseQmpLine('[1]'),
    (e: Error) => e instanceof QmpProtocolError && /not a JSON object/.test(e.message),
  );
  assert.throws(
    () => parseQmpLine('{"foo": 1}'),
    (e: Error) => e instanceof QmpProtocolError && /unknown QMP message/.test(e.message),
  );
  const s = new LineSplitter();
  assert.throws(() => s.push('x'.repeat(16 * 1024 * 1024 + 1)), QmpProtocolError);
});

test('QMP commands: one line with the id, arguments only when given', () => {
  assert.equal(
    encodeQmpCommand('query-block-jobs', undefined, 'stas-1'),
    '{"execute":"query-block-jobs","id":"stas-1"}\r\n',
  );
  assert.equal(
    encodeQmpCommand('block_resize', { 'node-name': 'n', size: 1024 }, 'stas-2'),
    '{"execute":"block_resize","arguments":{"node-name":"n","size":1024},"id":"stas-2"}\r\n',
  );
});
