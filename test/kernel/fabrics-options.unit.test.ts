// Option strings for /dev/nvme-fabrics, the kernel's option list and connect reply (pure; runs on the host).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildOptionString,
  parseConnectReply,
  parseSupportedOptions,
} from '../../daemons/nvme/kernel/fabrics-device.js';
import { FabricsAuthError, FabricsError, FabricsOptionError } from '../../daemons/nvme/kernel/errors.js';

// first line of /dev/nvme-fabrics on Debian 6.1 (captured in the kernel-host VM)
const KERNEL_61 =
  'instance=-1,cntlid=-1,transport=%s,traddr=%s,trsvcid=%s,nqn=%s,queue_size=%d,nr_io_queues=%d,' +
  'reconnect_delay=%d,ctrl_loss_tmo=%d,keep_alive_tmo=%d,hostnqn=%s,host_traddr=%s,host_iface=%s,hostid=%s,' +
  'duplicate_connect,disable_sqflow,hdr_digest,data_digest,nr_write_queues=%d,nr_poll_queues=%d,tos=%d,' +
  'fast_io_fail_tmo=%d,discovery,dhchap_secret=%s,dhchap_ctrl_secret=%s\n';
// a 5.17-era list: no TP8013 discovery, no dhchap
const KERNEL_517 =
  'instance=-1,cntlid=-1,transport=%s,traddr=%s,trsvcid=%s,nqn=%s,queue_size=%d,nr_io_queues=%d,' +
  'reconnect_delay=%d,ctrl_loss_tmo=%d,keep_alive_tmo=%d,hostnqn=%s,host_traddr=%s,host_iface=%s,hostid=%s,' +
  'duplicate_connect,disable_sqflow,hdr_digest,data_digest,nr_write_queues=%d,nr_poll_queues=%d,tos=%d,fast_io_fail_tmo=%d\n';

test('libnvme order for a discovery controller (nvme-stas §3.4 observed string)', () => {
  assert.equal(
    buildOptionString({
      nqn: 'nqn.2014-08.org.nvmexpress.discovery',
      transport: 'tcp',
      traddr: '::1',
      hostIface: 'lo',
      trsvcid: '8009',
      hostnqn: 'nqn.h',
      hostid: 'id-1',
      keepAliveTmo: 17,
      ctrlLossTmo: 600,
    }),
    'nqn=nqn.2014-08.org.nvmexpress.discovery,transport=tcp,traddr=::1,host_iface=lo,trsvcid=8009,hostnqn=nqn.h,hostid=id-1,keep_alive_tmo=17,ctrl_loss_tmo=600',
  );
  assert.equal(
    buildOptionString({
      nqn: 'nqn.s',
      transport: 'tcp',
      traddr: '127.0.0.1',
      trsvcid: '4420',
      hostnqn: 'nqn.h',
      hostid: 'id-1',
      nrIoQueues: 4,
      ctrlLossTmo: 600,
      hdrDigest: false,
      dataDigest: true,
      hostTraddr: '10.0.0.5',
      discovery: false,
      duplicateConnect: true,
    }),
    'nqn=nqn.s,transport=tcp,traddr=127.0.0.1,host_traddr=10.0.0.5,trsvcid=4420,hostnqn=nqn.h,hostid=id-1,nr_io_queues=4,' +
      'ctrl_loss_tmo=600,duplicate_connect,data_digest',
  );
});

test('values that could inject options are refused; secrets never echoed', () => {
  assert.throws(() => buildOptionString({ nqn: 'nqn.a,nr_io_queues=1', transport: 'tcp' }), FabricsOptionError);
  assert.throws(() => buildOptionString({ nqn: 'nqn.a', transport: 'tcp', traddr: '1.2.3.4 ' }), /traddr/);
  assert.throws(() => buildOptionString({ nqn: '', transport: 'tcp' }), /'nqn': missing/);
  assert.throws(() => buildOptionString({ nqn: 'n', transport: 'tcp', keepAliveTmo: 1.5 }), /integer/);
  const e = (() => {
    try {
      buildOptionString({ nqn: 'n', transport: 'tcp', dhchapSecret: 'DHHC-1:00:abc,def:' });
    } catch (err) {
      return err as Error;
    }
    return undefined;
  })();
  assert.ok(e instanceof FabricsOptionError);
  assert.doesNotMatch(e.message, /abc/);
  // '=' inside a value (base64 padding) is fine: the kernel splits on ',' only
  assert.equal(
    buildOptionString({ nqn: 'n', transport: 'tcp', dhchapSecret: 'DHHC-1:00:YWJj=:' }),
    'nqn=n,transport=tcp,dhchap_secret=DHHC-1:00:YWJj=:',
  );
});

test('kernel option list: parse and refuse what the kernel lacks', () => {
  const s = parseSupportedOptions(KERNEL_61);
  assert.equal(s.get('host_iface'), '%s');
  assert.equal(s.get('discovery'), 'flag');
  assert.equal(s.has('instance'), false);
  assert.equal(s.get('dhchap_secret'), '%s');
  const old = parseSupportedOptions(KERNEL_517);
  assert.equal(old.has('dhchap_secret'), false);
  assert.throws(
    () => buildOptionString({ nqn: 'n', transport: 'tcp', dhchapSecret: 'DHHC-1:00:x:' }, old),
    /dhchap_secret.*not supported/,
  );
  assert.throws(
    () => buildOptionString({ nqn: 'n', transport: 'tcp', discovery: true }, old),
    /discovery.*not supported/,
  );
  assert.equal(buildOptionString({ nqn: 'n', transport: 'tcp', discovery: true }, s), 'nqn=n,transport=tcp,discovery');
});

test('connect reply', () => {
  assert.deepEqual(parseConnectReply('instance=3,cntlid=17\n'), { instance: 3, cntlid: 17, device: 'nvme3' });
  assert.throws(() => parseConnectReply('garbage'), FabricsError);
  const err = new FabricsError('connect x', 'ECONNREFUSED', 'raw');
  assert.match(err.message, /connection refused.*\[ECONNREFUSED\]/);
});

test('kernel features: loose release compare, option list wins over the version', async () => {
  const { compareRelease, kernelFeatures } = await import('../../daemons/nvme/kernel/features.js');
  assert.equal(compareRelease('5.8.0-63-generic', '5.8.0-63'), 0);
  assert.ok(compareRelease('5.8.0-63-generic', '5.9') < 0);
  assert.ok(compareRelease('5.8.0-63-generic', '5.8') > 0);
  assert.notEqual(compareRelease('5.8.0-63-generic', '5.8.0'), 0);
  assert.ok(compareRelease('6.1.0-56-amd64', '5.20') > 0);
  // the option list decides when readable: a 6.5 kernel with a 5.17-style list (vendor backport) has no discovery
  const f = kernelFeatures('6.5.0', parseSupportedOptions(KERNEL_517));
  assert.deepEqual(
    [f.hostIface, f.discovery, f.dhchapSecret, f.dhchapCtrlSecret, f.warning],
    [true, false, false, false, undefined],
  );
  const d = kernelFeatures('6.1.0-56-amd64', parseSupportedOptions(KERNEL_61));
  assert.deepEqual([d.hostIface, d.discovery, d.dhchapSecret, d.dhchapCtrlSecret], [true, true, true, true]);
  // list unreadable: version thresholds
  const old = kernelFeatures('5.15.0-1-generic', undefined, 'Cannot determine which NVMe options the kernel supports');
  assert.deepEqual([old.hostIface, old.discovery, old.dhchapSecret], [true, false, false]);
  assert.match(old.warning ?? '', /Cannot determine/);
  const v6 = kernelFeatures('6.2.0', undefined);
  assert.deepEqual([v6.hostIface, v6.discovery, v6.dhchapSecret, v6.dhchapCtrlSecret], [true, true, true, true]);
});

test('a refused DH-HMAC-CHAP key is named: EKEYREJECTED (errno 129, unnamed by libuv) and EIO with a key set', () => {
  const raw = Object.assign(new Error('Unknown system error -129'), { errno: -129, code: 'Unknown system error -129' });
  const e = FabricsError.from('connect tcp://h:4420 nqn.x', raw);
  assert.equal(e.code, 'EKEYREJECTED');
  assert.equal(
    e.message,
    'connect tcp://h:4420 nqn.x: authentication failed (DH-HMAC-CHAP key rejected) [EKEYREJECTED]',
  );
  const a = new FabricsAuthError('connect x', 'Input/output error');
  assert.ok(a instanceof FabricsError);
  assert.equal(a.code, 'EIO');
  assert.match(a.message, /DH-HMAC-CHAP authentication failed or the controller rejected the Connect command/);
});
