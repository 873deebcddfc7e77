// What the tests of the pure reconfiguration plan share: a TID context, discovery-controller TIDs by address,
// referral log entries and the plan's usual inputs. Not a test file.
import { isIP } from 'node:net';
import { TID } from '../../daemons/common/tid.js';

export const ctx = { ignoreIface: false, hostNqn: 'nqn.2014-08.org.nvmexpress:uuid:host' };
export const DISC = 'nqn.2014-08.org.nvmexpress.discovery';

/** the TID of a TCP discovery controller at traddr:trsvcid */
export const tid = (traddr: string, trsvcid = '8009'): TID =>
  TID.fromCid(
    [
      ['transport', 'tcp'],
      ['traddr', traddr],
      ['trsvcid', trsvcid],
      ['subsysnqn', DISC],
    ],
    ctx,
  );

/** a discovery log entry that refers to the DC at traddr:trsvcid */
export const referral = (traddr: string, trsvcid = '8009'): Record<string, string> => ({
  trtype: 'tcp',
  adrfam: 'ipv4',
  traddr,
  trsvcid,
  subnqn: DISC,
  subtype: 'referral',
});

/** nothing excluded, IP addresses valid */
export const planBase = { excluded: () => false, valid: (t: TID) => isIP(t.traddr) !== 0, tidContext: ctx };
