// The udevadm monitor parser on text captured from the kernel-host VM (connect discovery controller, link a
// subsystem on the target → AEN, disconnect).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isDiscoveryLogChange, ueventDeviceName, UeventParser, type Uevent } from '../../daemons/udev/uevent-parser.js';

// fixtures are not compiled: always read them from the source tree
const fixture = fileURLToPath(
  new URL('./fixtures/udevadm-monitor-nvme.txt', import.meta.url.replace('/dist/test/', '/test/')),
);
const TEXT = readFileSync(fixture, 'utf8');

function parseAll(chunks: string[]): { events: Uevent[]; banner: boolean } {
  const p = new UeventParser();
  const events: Uevent[] = [];
  for (const c of chunks) events.push(...p.push(c));
  events.push(...p.flush());
  return { events, banner: p.bannerSeen };
}

test('parses the captured add / change(connected) / change(AEN) / remove sequence', () => {
  const { events, banner } = parseAll([TEXT]);
  assert.equal(banner, true);
  assert.deepEqual(
    events.map((e) => [e.source, e.action, e.devpath, e.subsystem]),
    [
      ['KERNEL', 'add', '/devices/virtual/nvme-fabrics/ctl/nvme0', 'nvme'],
      ['KERNEL', 'change', '/devices/virtual/nvme-fabrics/ctl/nvme0', 'nvme'],
      ['KERNEL', 'change', '/devices/virtual/nvme-fabrics/ctl/nvme0', 'nvme'],
      ['KERNEL', 'remove', '/devices/virtual/nvme-fabrics/ctl/nvme0', 'nvme'],
    ],
  );
  const [add, connected, aen] = events as [Uevent, Uevent, Uevent, Uevent];
  assert.equal(add.properties['NVME_TRTYPE'], 'tcp');
  assert.equal(add.properties['NVME_TRADDR'], '127.0.0.1');
  assert.equal(add.properties['NVME_TRSVCID'], '8009');
  assert.equal(add.properties['NVME_HOST_TRADDR'], 'none');
  assert.equal(add.properties['DEVNAME'], '/dev/nvme0');
  assert.ok(add.timestamp > 0);
  assert.equal(connected.properties['NVME_EVENT'], 'connected');
  assert.equal(isDiscoveryLogChange(connected), false);
  assert.equal(aen.properties['NVME_AEN'], '0x70f002');
  assert.equal(isDiscoveryLogChange(aen), true);
  assert.equal(ueventDeviceName(aen), 'nvme0');
});

test('any chunking gives the same events (byte-by-byte and random splits)', () => {
  const whole = parseAll([TEXT]).events;
  assert.deepEqual(parseAll([...TEXT]).events, whole);
  let seed = 7;
  for (let round = 0; round < 50; round++) {
    const chunks: string[] = [];
    for (let i = 0; i < TEXT.length;) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      const n = 1 + (seed % 97);
      chunks.push(TEXT.slice(i, i + n));
      i += n;
    }
    assert.deepEqual(parseAll(chunks).events, whole);
  }
});

test('garbage and a header without a preceding blank line do not break parsing', () => {
  const text =
    'garbage line\nKEY=without header\nKERNEL[1.5] add /devices/x/nvme3 (nvme)\nACTION=add\n' +
    'UDEV  [2.0] change   /devices/x/nvme3 (nvme)\nACTION=change\nNVME_AEN=0x70F002\n\n\n';
  const { events } = parseAll([text]);
  assert.equal(events.length, 2);
  assert.equal(events[0]?.action, 'add');
  assert.equal(events[1]?.source, 'UDEV');
  assert.equal(isDiscoveryLogChange(events[1] as Uevent), true);
  assert.equal(ueventDeviceName(events[1] as Uevent), 'nvme3');
});
