// A minimal NVMe/TCP liveness probe: send an ICReq, expect an ICResp. A TCP connect to a QEMU forward always
// succeeds even with nothing listening in the guest, so only a PDU exchange proves that nvmet-tcp is there.
import { Socket } from 'node:net';

export interface IcResp {
  pduType: number;
  hlen: number;
  plen: number;
  pfv: number;
  cpda: number;
  digest: number;
  maxH2CData: number;
}

/** ICReq: 128-byte PDU, type 0x00, HLEN 128, PLEN 128, PFV 0, HPDA 0, no digests, MAXR2T 0. */
export function encodeIcReq(): Buffer {
  const b = Buffer.alloc(128);
  b.writeUInt8(0x00, 0);
  b.writeUInt8(0, 1);
  b.writeUInt8(128, 2);
  b.writeUInt8(0, 3);
  b.writeUInt32LE(128, 4);
  return b;
}

export function probeIcResp(host: string, port: number, timeoutMs = 5_000): Promise<IcResp> {
  return new Promise((resolve, reject) => {
    const sock = new Socket();
    const chunks: Buffer[] = [];
    let got = 0;
    const done = (err: Error | null, r?: IcResp): void => {
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(r as IcResp);
    };
    const timer = setTimeout(
      () => done(new Error(`no ICResp from ${host}:${port} within ${timeoutMs} ms (got ${got} bytes)`)),
      timeoutMs,
    );
    sock.on('data', (d: Buffer) => {
      chunks.push(d);
      got += d.length;
      if (got >= 128) {
        const b = Buffer.concat(chunks);
        done(null, {
          pduType: b.readUInt8(0),
          hlen: b.readUInt8(2),
          plen: b.readUInt32LE(4),
          pfv: b.readUInt16LE(8),
          cpda: b.readUInt8(10),
          digest: b.readUInt8(11),
          maxH2CData: b.readUInt32LE(12),
        });
      }
    });
    sock.on('error', (e) => done(new Error(`ICReq to ${host}:${port}: ${e.message}`)));
    sock.on('end', () =>
      done(new Error(`${host}:${port} closed the connection after ${got} bytes (nothing listening in the guest?)`)),
    );
    sock.connect(port, host, () => sock.write(encodeIcReq()));
  });
}
