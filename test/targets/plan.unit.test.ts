// The nvmet planner: ownership (hand-made objects untouched), refusals before any change, ordering, identities.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { planNvmet, EMPTY_OWNED, type OwnedRecord } from '../../daemons/targets/plan.js';
import type { NvmetState } from '../../daemons/targets/configfs.js';
import type { SubsystemSpec } from '../../daemons/targets/types.js';
import { namespaceIdentity, subsystemSerial } from '../../daemons/targets/identity.js';

const NQN = 'nqn.2014-08.org.nvmexpress:stas:ap:web';
const HOST = 'nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555';
const EMPTY: NvmetState = { ports: [], subsystems: [], hosts: [] };
const hand: NvmetState = {
  ports: [
    {
      id: '1',
      trtype: 'tcp',
      adrfam: 'ipv4',
      traddr: '0.0.0.0',
      trsvcid: '4420',
      subsystems: ['nqn.2024-01.io.example:subsys1'],
    },
  ],
  subsystems: [
    { nqn: 'nqn.2024-01.io.example:subsys1', allowAnyHost: true, hosts: [], serial: 'X', model: 'Y', namespaces: [] },
  ],
  hosts: [],
};

function spec(over: Partial<SubsystemSpec> = {}): SubsystemSpec {
  return {
    nqn: NQN,
    serial: subsystemSerial(NQN),
    model: 'stas access path',
    ports: [{ trtype: 'tcp', adrfam: 'ipv4', traddr: '127.0.0.1', trsvcid: '4430' }],
    hosts: [{ nqn: HOST }],
    namespaces: [{ nsid: 1, devicePath: '/data/v1.raw', ...namespaceIdentity('pool/v1') }],
    ...over,
  };
}

/** applies a plan's operations to a state snapshot (what configfs would show afterwards) */
function simulate(state: NvmetState, ops: ReturnType<typeof planNvmet>['ops']): NvmetState {
  const s: NvmetState = structuredClone(state);
  const sub = (n: string) => s.subsystems.find((x) => x.nqn === n)!;
  for (const o of ops) {
    const parts = o.path.split('/');
    if (o.op === 'mkdir' && parts[0] === 'ports')
      s.ports.push({ id: parts[1]!, trtype: '', adrfam: '', traddr: '', trsvcid: '', subsystems: [] });
    else if (o.op === 'mkdir' && parts[0] === 'hosts') s.hosts.push({ nqn: parts[1]!, dhchapKey: undefined });
    else if (o.op === 'mkdir' && parts.length === 2)
      s.subsystems.push({ nqn: parts[1]!, allowAnyHost: true, hosts: [], serial: '', model: '', namespaces: [] });
    else if (o.op === 'mkdir')
      sub(parts[1]!).namespaces.push({
        nsid: Number(parts[3]),
        devicePath: '',
        nguid: '',
        uuid: '',
        bufferedIo: false,
        enabled: false,
      });
    else if (o.op === 'write' && parts[0] === 'ports') {
      const p = s.ports.find((x) => x.id === parts[1])!;
      const k = parts[2]!.replace('addr_', '') as 'trtype' | 'adrfam' | 'traddr' | 'trsvcid';
      p[k] = o.value;
    } else if (o.op === 'write' && parts[0] === 'subsystems' && parts.length === 5) {
      const n = sub(parts[1]!).namespaces.find((x) => x.nsid === Number(parts[3]))!;
      if (parts[4] === 'enable') n.enabled = o.value === '1';
      if (parts[4] === 'device_path') n.devicePath = o.value;
      if (parts[4] === 'device_nguid') n.nguid = o.value;
      if (parts[4] === 'device_uuid') n.uuid = o.value;
      if (parts[4] === 'buffered_io') n.bufferedIo = o.value === '1';
    } else if (o.op === 'write' && parts[2] === 'attr_allow_any_host') sub(parts[1]!).allowAnyHost = o.value === '1';
    else if (o.op === 'write' && parts[2] === 'attr_serial') sub(parts[1]!).serial = o.value;
    else if (o.op === 'write' && parts[2] === 'attr_model') sub(parts[1]!).model = o.value;
    else if (o.op === 'write' && parts[0] === 'hosts') s.hosts.find((h) => h.nqn === parts[1])!.dhchapKey = o.value;
    else if (o.op === 'link' && parts[0] === 'ports')
      s.ports.find((x) => x.id === parts[1])!.subsystems.push(parts[3]!);
    else if (o.op === 'link') sub(parts[1]!).hosts.push(parts[3]!);
    else if (o.op === 'unlink' && parts[0] === 'ports') {
      const p = s.ports.find((x) => x.id === parts[1])!;
      p.subsystems = p.subsystems.filter((x) => x !== parts[3]);
    } else if (o.op === 'unlink') sub(parts[1]!).hosts = sub(parts[1]!).hosts.filter((h) => h !== parts[3]);
    else if (o.op === 'rmdir' && parts[0] === 'ports') s.ports = s.ports.filter((x) => x.id !== parts[1]);
    else if (o.op === 'rmdir' && parts[0] === 'hosts') s.hosts = s.hosts.filter((x) => x.nqn !== parts[1]);
    else if (o.op === 'rmdir' && parts.length === 2) s.subsystems = s.subsystems.filter((x) => x.nqn !== parts[1]);
    else if (o.op === 'rmdir') {
      const x = sub(parts[1]!);
      x.namespaces = x.namespaces.filter((n) => n.nsid !== Number(parts[3]));
    } else throw new Error(`simulate: ${o.op} ${o.path}`);
  }
  return s;
}

describe('nvmet plan', () => {
  it('creates port, host, subsystem, namespace; links the port last; records ownership first', () => {
    const p = planNvmet(EMPTY, EMPTY_OWNED, [spec()], { hostAuth: false });
    const paths = p.ops.map((o) => `${o.op} ${o.path}`);
    assert.deepEqual(paths.slice(0, 5), [
      'mkdir ports/1000',
      'write ports/1000/addr_trtype',
      'write ports/1000/addr_adrfam',
      'write ports/1000/addr_traddr',
      'write ports/1000/addr_trsvcid',
    ]);
    assert.equal(paths.at(-1), `link ports/1000/subsystems/${NQN}`);
    assert.ok(
      p.ops.some((o) => o.op === 'write' && o.path === `subsystems/${NQN}/attr_allow_any_host` && o.value === '0'),
    );
    assert.ok(
      paths.indexOf(`write subsystems/${NQN}/namespaces/1/device_path`) <
        paths.indexOf(`write subsystems/${NQN}/namespaces/1/enable`),
    );
    assert.deepEqual(p.ownedBefore, { ports: [{ ...spec().ports[0]!, id: '1000' }], subsystems: [NQN], hosts: [HOST] });
    assert.deepEqual(p.ownedAfter, p.ownedBefore);
  });

  it('is idempotent: applying the plan, then planning again, gives no operation', () => {
    const p = planNvmet(EMPTY, EMPTY_OWNED, [spec()], { hostAuth: false });
    const after = simulate(EMPTY, p.ops);
    const again = planNvmet(after, p.ownedAfter, [spec()], { hostAuth: false });
    assert.deepEqual(again.ops, []);
  });

  it('removes only what it owns; a hand-made subsystem, port and host stay', () => {
    const start: NvmetState = structuredClone(hand);
    start.hosts.push({ nqn: HOST, dhchapKey: undefined });
    const p = planNvmet(start, EMPTY_OWNED, [spec()], { hostAuth: false });
    assert.deepEqual(p.ownedBefore.hosts, [], 'the existing host entry is used, not owned');
    const mid = simulate(start, p.ops);
    const del = planNvmet(mid, p.ownedAfter, [], { hostAuth: false });
    const end = simulate(mid, del.ops);
    assert.deepEqual(end, start);
    assert.deepEqual(del.ownedAfter, EMPTY_OWNED);
  });

  it('re-creates its objects after a reboot (configfs empty) with the same port id', () => {
    const p = planNvmet(EMPTY, EMPTY_OWNED, [spec()], { hostAuth: false });
    const again = planNvmet(EMPTY, p.ownedAfter, [spec()], { hostAuth: false });
    assert.deepEqual(again.ops, p.ops);
  });

  it('refuses a port that a hand-made nvmet port serves, by name, and plans nothing', () => {
    assert.throws(
      () =>
        planNvmet(
          hand,
          EMPTY_OWNED,
          [spec({ ports: [{ trtype: 'tcp', adrfam: 'ipv4', traddr: '127.0.0.1', trsvcid: '4420' }] })],
          { hostAuth: false },
        ),
      (e: Error & { code?: string }) =>
        e.code === 'Busy' &&
        /port tcp:127\.0\.0\.1:4420 is already used by nvmet port 1 \(tcp:0\.0\.0\.0:4420\) serving nqn\.2024-01\.io\.example:subsys1, which stas did not create/.test(
          e.message,
        ),
    );
  });

  it('refuses a subsystem NQN that exists and is not its own', () => {
    assert.throws(
      () => planNvmet(hand, EMPTY_OWNED, [spec({ nqn: 'nqn.2024-01.io.example:subsys1' })], { hostAuth: false }),
      /stas did not create it/,
    );
  });

  it('refuses a DH-HMAC-CHAP key when the kernel has no target authentication', () => {
    assert.throws(
      () =>
        planNvmet(EMPTY, EMPTY_OWNED, [spec({ hosts: [{ nqn: HOST, dhchapKey: 'DHHC-1:00:abc:' }] })], {
          hostAuth: false,
        }),
      (e: Error & { code?: string }) => e.code === 'NotSupported' && /CONFIG_NVME_TARGET_AUTH/.test(e.message),
    );
    const p = planNvmet(EMPTY, EMPTY_OWNED, [spec({ hosts: [{ nqn: HOST, dhchapKey: 'DHHC-1:00:abc:' }] })], {
      hostAuth: true,
    });
    const w = p.ops.find((o) => o.op === 'write' && o.path === `hosts/${HOST}/dhchap_key`);
    assert.ok(w && w.op === 'write' && w.secret === true);
  });

  it('refuses duplicate namespace ids and two keys for one host', () => {
    const ns = spec().namespaces[0]!;
    assert.throws(
      () =>
        planNvmet(EMPTY, EMPTY_OWNED, [spec({ namespaces: [ns, { ...ns, devicePath: '/x' }] })], { hostAuth: false }),
      /namespace id 1 is used twice/,
    );
    const other = spec({ nqn: `${NQN}2`, hosts: [{ nqn: HOST, dhchapKey: 'DHHC-1:00:b:' }] });
    assert.throws(
      () =>
        planNvmet(EMPTY, EMPTY_OWNED, [spec({ hosts: [{ nqn: HOST, dhchapKey: 'DHHC-1:00:a:' }] }), other], {
          hostAuth: true,
        }),
      /one DH-HMAC-CHAP key per host NQN/,
    );
  });

  it('a changed device path disables, rewrites and re-enables the namespace; a removed host is unlinked and its entry removed', () => {
    const p = planNvmet(EMPTY, EMPTY_OWNED, [spec()], { hostAuth: false });
    const mid = simulate(EMPTY, p.ops);
    const ns = { ...spec().namespaces[0]!, devicePath: '/dev/nbd0' };
    const q = planNvmet(mid, p.ownedAfter, [spec({ hosts: [], namespaces: [ns] })], { hostAuth: false });
    assert.deepEqual(
      q.ops.map((o) => `${o.op} ${o.path}`),
      [
        `unlink subsystems/${NQN}/allowed_hosts/${HOST}`,
        `rmdir hosts/${HOST}`,
        `write subsystems/${NQN}/namespaces/1/enable`,
        `write subsystems/${NQN}/namespaces/1/device_path`,
        `write subsystems/${NQN}/namespaces/1/device_nguid`,
        `write subsystems/${NQN}/namespaces/1/device_uuid`,
        `write subsystems/${NQN}/namespaces/1/buffered_io`,
        `write subsystems/${NQN}/namespaces/1/enable`,
      ],
    );
  });

  it('two access paths on one address share one nvmet port', () => {
    const p = planNvmet(EMPTY, EMPTY_OWNED, [spec(), spec({ nqn: `${NQN}2` })], { hostAuth: false });
    assert.equal(p.ownedAfter.ports.length, 1);
    assert.equal(p.ops.filter((o) => o.op === 'link' && o.path.startsWith('ports/1000/subsystems/')).length, 2);
    // removing one keeps the port for the other
    const mid = simulate(EMPTY, p.ops);
    const q = planNvmet(mid, p.ownedAfter, [spec()], { hostAuth: false });
    assert.ok(!q.ops.some((o) => o.path === 'ports/1000' && o.op === 'rmdir'));
  });

  it('a recorded port id that now holds another address is not treated as its own', () => {
    const owned: OwnedRecord = {
      ports: [{ id: '1', trtype: 'tcp', adrfam: 'ipv4', traddr: '127.0.0.1', trsvcid: '4430' }],
      subsystems: [],
      hosts: [],
    };
    const p = planNvmet(hand, owned, [], { hostAuth: false });
    assert.deepEqual(p.ops, []);
    assert.deepEqual(p.ownedAfter.ports, []);
  });
});

describe('identities', () => {
  it('are stable, distinct per volume and in nvmet formats', () => {
    const a = namespaceIdentity('pool/abc');
    assert.deepEqual(namespaceIdentity('pool/abc'), a);
    assert.notEqual(namespaceIdentity('pool/abd').nguid, a.nguid);
    assert.match(a.nguid, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.match(a.uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.match(subsystemSerial(NQN), /^[0-9A-F]{20}$/);
  });
});
