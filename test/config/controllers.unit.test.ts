import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  configuredTid,
  ConfigWarning,
  loadServiceConfig,
  redactSecrets,
  resolveConnectParams,
  tokenizeControllerText,
  WELL_KNOWN_DISC_NQN,
  type CidValue,
  type ServiceKind,
} from '../../daemons/config/index.js';
import { tempDir, write } from './helpers.js';

const dir = tempDir();
let n = 0;
function load(kind: ServiceKind, text: string) {
  const path = write(join(dir, `c${n++}`, `${kind}.conf`), text);
  const r = loadServiceConfig(kind, path);
  return { ...r, path, msgs: r.warnings.map(String) };
}
const CTX = { ignoreIface: false, hostNqn: 'nqn.2014-08.org.nvmexpress:uuid:h' };

test('tokenizer: ; separated key=value, spaces ignored, exactly one = or the token is dropped with a warning', () => {
  const w: ConfigWarning[] = [];
  const ref = { file: '/etc/stas/stacd.conf', line: 7 };
  const m = tokenizeControllerText(
    ' transport = tcp ;traddr=1.2.3.4;; junk ;a=b=c;host-traddr=1,host-iface=eth0;k=',
    ref,
    '[Controllers] controller',
    w,
  );
  assert.deepEqual(
    [...m],
    [
      ['transport', 'tcp'],
      ['traddr', '1.2.3.4'],
      ['k', ''],
    ],
  );
  assert.deepEqual(w.map(String), [
    '/etc/stas/stacd.conf:7: [Controllers] controller: token "junk" has no "="; dropped',
    '/etc/stas/stacd.conf:7: [Controllers] controller: token "a=b=c" has more than one "="; dropped',
    '/etc/stas/stacd.conf:7: [Controllers] controller: token "host-traddr=1,host-iface=eth0" has more than one "="; dropped',
  ]);
});

test('tokenizer: a dhchap secret with = padding is dropped, and the warning does not show it', () => {
  const w: ConfigWarning[] = [];
  tokenizeControllerText('transport=tcp;dhchap-secret=DHHC-1:00:c2VjcmV0==:', { file: 'f', line: 1 }, 'x', w);
  assert.equal(w.length, 1);
  assert.ok(!String(w[0]).includes('c2VjcmV0'));
  assert.match(
    String(w[0]),
    /dhchap-secret=<redacted>" has more than one "="; dropped \(a secret containing "=" cannot be given/,
  );
  assert.equal(redactSecrets('a=1;dhchap-ctrl-secret = DHHC-1:01:x: ;b=2'), 'a=1;dhchap-ctrl-secret = <redacted>;b=2');
});

test('controller=: nqn renamed to subsysnqn (nqn wins), keys case-insensitive with _ = - (stas), repeated key keeps first position', () => {
  const r = load(
    'stacd',
    '[Controllers]\ncontroller = subsysnqn=nqn.a;transport=tcp;nqn=nqn.b;traddr=1.1.1.1;Kato=5;TRADDR=2.2.2.2;Host_Iface=eth0\n',
  );
  assert.deepEqual(r.config.controllers[0].cid, [
    ['subsysnqn', 'nqn.b'],
    ['transport', 'tcp'],
    ['traddr', '2.2.2.2'],
    ['kato', 5],
    ['host-iface', 'eth0'],
  ]);
});

test('per-controller overrides are validated with [Global] rules: invalid -> Global default, or raw text when that is none', () => {
  const f = load(
    'stafd',
    '[Controllers]\ncontroller = transport=tcp;traddr=1.1.1.1;kato=abc;hdr-digest=TRUE;queue-size=8;ip-family=ipv4;data-digest=maybe\n',
  );
  assert.deepEqual(f.config.controllers[0].cid, [
    ['transport', 'tcp'],
    ['traddr', '1.1.1.1'],
    ['kato', 30],
    ['hdr-digest', true],
    ['queue-size', '8'],
    ['ip-family', [4]],
    ['data-digest', false],
  ]);
  assert.deepEqual(
    f.msgs.map((m) => m.replace(f.path, 'F')),
    [
      'F:2: [Controllers] controller: kato: "abc" is not an integer; using [Global] default (30)',
      'F:2: [Controllers] controller: queue-size: "8" is not within range 16..1024; keeping the text "8" unconverted (as nvme-stas does)',
      'F:2: [Controllers] controller: data-digest: "maybe" is not one of false, true; using [Global] default (false)',
    ],
  );
  const s = load('stacd', '[Controllers]\ncontroller = transport=tcp;traddr=1.1.1.1;nqn=n;kato=abc;nr-io-queues=4\n');
  assert.deepEqual(s.config.controllers[0].cid.slice(2), [
    ['kato', 'abc'],
    ['nr-io-queues', 4],
    ['subsysnqn', 'n'],
  ]);
});

test('exclude=: same tokenizer, host-traddr removed, nqn renamed, values stay text; empty line = empty entry', () => {
  const r = load('stafd', '[Controllers]\nexclude = transport=tcp;host-traddr=1.1.1.1;nqn=nqn.x;kato=17\nexclude =\n');
  assert.deepEqual(r.config.excludes, [
    [
      ['transport', 'tcp'],
      ['kato', '17'],
      ['subsysnqn', 'nqn.x'],
    ],
    [],
  ]);
});

test('exclude=: a blank line between two exclude= lines is reported (nvme-stas would exclude everything)', () => {
  const r = load('stafd', '[Controllers]\nexclude = traddr=1.1.1.1\n\nexclude = traddr=2.2.2.2\n');
  assert.deepEqual(r.config.excludes, [[['traddr', '1.1.1.1']], [['traddr', '2.2.2.2']]]);
  assert.equal(r.msgs.length, 1);
  assert.match(
    r.msgs[0],
    /:4: \[Controllers\] exclude: blank line\(s\) before this value: nvme-stas would read them as an empty exclude= entry/,
  );
});

test('configured-entry filters: stafd needs transport/traddr/trsvcid (drops fc), defaults the NQN; stacd also needs subsysnqn', () => {
  const r = (kind: ServiceKind, line: string) =>
    configuredTid(kind, load(kind, `[Controllers]\ncontroller = ${line}\n`).config.controllers[0], CTX);
  const dc = r('stafd', 'transport=tcp;traddr=1.1.1.1');
  assert.ok('tid' in dc);
  assert.equal(dc.tid.subsysnqn, WELL_KNOWN_DISC_NQN);
  assert.equal(dc.tid.trsvcid, '8009');
  assert.deepEqual(r('stafd', 'transport=fc;traddr=nn-0x1:pn-0x2'), {
    reason: 'trsvcid missing (fc/loop entries have no trsvcid: nvme-stas drops them)',
  });
  assert.deepEqual(r('stafd', 'traddr=1.1.1.1'), { reason: 'transport, trsvcid missing' });
  assert.deepEqual(r('stacd', 'transport=tcp;traddr=1.1.1.1'), { reason: 'subsysnqn missing' });
  const ioc = r('stacd', 'transport=tcp;traddr=1.1.1.1;nqn=nqn.s');
  assert.ok('tid' in ioc);
  assert.equal(ioc.tid.trsvcid, '8009', 'stacd also defaults tcp to 8009, as nvme-stas');
  const rdma = r('stacd', 'transport=rdma;traddr=1.1.1.1;nqn=nqn.s');
  assert.ok('tid' in rdma && rdma.tid.trsvcid === '4420');
});

test('connect parameters: override > [Global] > default, unset omitted, kernel names', () => {
  const r = load(
    'stacd',
    '[Global]\nkato = 20\nqueue-size = 64\nhdr-digest = true\n[Controllers]\ncontroller = transport=tcp;traddr=1.1.1.1;nqn=n;kato=5;ctrl-loss-tmo=-1;nr-io-queues=abc\n',
  );
  const spec = r.config.controllers[0];
  const t = configuredTid('stacd', spec, CTX);
  assert.ok('tid' in t);
  assert.deepEqual(
    r.config.connectParams(t.tid.cfg).map((p) => [p.option, p.kernel, p.value]),
    [
      ['hdr-digest', 'hdr_digest', true],
      ['data-digest', 'data_digest', false],
      ['nr-io-queues', 'nr_io_queues', 'abc'],
      ['queue-size', 'queue_size', 64],
      ['kato', 'keep_alive_tmo', 5],
      ['ctrl-loss-tmo', 'ctrl_loss_tmo', -1],
    ],
  );
  // a DLPE-learned IOC gets [Global] values only
  assert.deepEqual(
    r.config.connectParams().map((p) => `${p.kernel}=${p.value}`),
    ['hdr_digest=true', 'data_digest=false', 'queue_size=64', 'keep_alive_tmo=20'],
  );
  assert.deepEqual(
    resolveConnectParams(
      () => null,
      new Map<string, CidValue>([
        ['disable-sqflow', true],
        ['reconnect-delay', 3],
        ['nr-write-queues', 1],
        ['nr-poll-queues', 2],
      ]),
    ).map((p) => p.kernel),
    ['nr_write_queues', 'nr_poll_queues', 'reconnect_delay', 'disable_sqflow'],
  );
});
