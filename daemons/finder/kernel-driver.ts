// The kernel fabrics driver: persistent discovery controllers through /dev/nvme-fabrics (placeholder until the
// kernel path lands; selecting it explicitly fails every connect with a clear reason).
import type { DcConnectRequest, DcLink, DriverCounters, FabricsDriver } from './driver.js';

export class KernelDriver implements FabricsDriver {
  readonly kind = 'kernel' as const;
  async connect(req: DcConnectRequest): Promise<DcLink> {
    throw new Error(`${req.tid}: the kernel fabrics driver is not available in this build`);
  }
  counters(): DriverCounters {
    return { protocolErrors: 0 };
  }
  async stop(): Promise<void> {}
}
