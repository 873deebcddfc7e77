// An I/O queue: its own TCP connection, Connect with QID ≥ 1 and the admin session's CNTLID, then Read/Write
// in units of the namespace's LBA size (from Identify Namespace LBAF[FLBAS]).
import { readCommand, writeCommand, connectCommand } from '../protocol/commands.js';
import { inlineDataLimit, type IdentifyController } from '../protocol/identify.js';
import { NvmeTcpError } from './errors.js';
import { NvmeTcpQueue } from './queue.js';
import { hostIdBytes, type AdminSession } from './session.js';
import { authenticateIfRequired } from './auth.js';

export interface IoQueueOptions {
  qid?: number;
  /** 0's based; default 127 */
  sqsize?: number;
  disableSqFlow?: boolean;
  /** Identify Controller of the session (for IOCCSZ → in-capsule limit); fetched when absent */
  identify?: IdentifyController;
  commandTimeoutMs?: number;
}

export interface BlockNamespace {
  nsid: number;
  lbaSize: number;
}

export class IoQueue {
  private constructor(
    readonly queue: NvmeTcpQueue,
    readonly qid: number,
  ) {}

  static async open(admin: AdminSession, opts: IoQueueOptions = {}): Promise<IoQueue> {
    const idc = opts.identify ?? (await admin.identifyController());
    const o = admin.options;
    const qid = opts.qid ?? 1;
    const queue = await NvmeTcpQueue.open({
      ...o,
      inlineDataLimit: inlineDataLimit(idc),
      commandTimeoutMs: opts.commandTimeoutMs ?? o.commandTimeoutMs,
      label: `${admin.label} qid ${qid}`,
    });
    try {
      const r = await queue.submit(
        connectCommand({
          qid,
          sqsize: opts.sqsize ?? 127,
          disableSqFlow: opts.disableSqFlow ?? o.disableSqFlow,
          hostId: hostIdBytes(o.hostid),
          cntlid: admin.cntlid,
          subnqn: o.subnqn,
          hostnqn: o.hostnqn,
        }),
      );
      await authenticateIfRequired(queue, r.cqe.dw0, { qid, hostnqn: o.hostnqn, subnqn: o.subnqn, keys: o.dhchap });
    } catch (e) {
      queue.close();
      throw e;
    }
    return new IoQueue(queue, qid);
  }

  async read(ns: BlockNamespace, slba: bigint | number, blocks: number): Promise<Buffer> {
    checkNs(ns);
    return (await this.queue.submit(readCommand({ nsid: ns.nsid, slba, blocks }, ns.lbaSize))).data;
  }

  /** data.length must be a whole number of blocks */
  async write(ns: BlockNamespace, slba: bigint | number, data: Buffer): Promise<void> {
    checkNs(ns);
    if (data.length === 0 || data.length % ns.lbaSize !== 0) {
      throw new NvmeTcpError(
        'usage',
        `write of ${data.length} bytes is not a whole number of ${ns.lbaSize}-byte blocks`,
      );
    }
    await this.queue.submit(writeCommand({ nsid: ns.nsid, slba, blocks: data.length / ns.lbaSize }, data, ns.lbaSize));
  }

  close(): void {
    this.queue.close();
  }
}

function checkNs(ns: BlockNamespace): void {
  if (!(ns.lbaSize >= 512) || (ns.lbaSize & (ns.lbaSize - 1)) !== 0)
    throw new NvmeTcpError('usage', `namespace ${ns.nsid}: LBA size ${ns.lbaSize} is not a power of two ≥ 512`);
}
