// The guest's control channel: busybox `nc -ll -p 2323 -e /bin/sh` reached through a QEMU forward.
// Each exec opens a connection, sends the command wrapped in a subshell (so `set -e`/`exit` in it cannot kill
// the control shell before the exit code is printed), and reads merged stdout/stderr up to a unique marker.
import { Socket } from 'node:net';
import { randomBytes } from 'node:crypto';

export interface ExecResult {
  code: number;
  out: string;
}

export interface ExecOptions {
  /** Upper bound for the whole command, default 30 s. */
  timeoutMs?: number;
}

export function controlExec(host: string, port: number, cmd: string, opts: ExecOptions = {}): Promise<ExecResult> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const marker = `__STAS_RC_${randomBytes(6).toString('hex')}=`;
  const script = `(\n${cmd}\n) </dev/null 2>&1\necho "${marker}$?"\nexit\n`;
  return new Promise<ExecResult>((resolve, reject) => {
    const sock = new Socket();
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (err: Error | null, res?: ExecResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(res as ExecResult);
    };
    const text = (): string => Buffer.concat(chunks).toString('utf8');
    const timer = setTimeout(() => {
      finish(new Error(`VM exec timed out after ${timeoutMs} ms: ${cmd.slice(0, 200)}\n--- output so far ---\n${text().slice(-2000)}`));
    }, timeoutMs);
    const parse = (): boolean => {
      const all = text();
      const i = all.lastIndexOf(marker);
      if (i < 0) return false;
      const m = /^(\d+)/.exec(all.slice(i + marker.length));
      if (!m) return false;
      finish(null, { code: Number(m[1]), out: all.slice(0, i) });
      return true;
    };
    sock.on('data', (d: Buffer) => {
      chunks.push(d);
      const all = text();
      // wait for the newline after the code so that a partial number is never taken
      if (all.includes(marker) && /\d+\n/.test(all.slice(all.lastIndexOf(marker) + marker.length))) parse();
    });
    sock.on('end', () => {
      if (!parse()) finish(new Error(`VM control channel ${host}:${port} closed without an exit code (is the VM up?); output: ${text().slice(-2000)}`));
    });
    sock.on('error', (e) => finish(new Error(`VM control channel ${host}:${port}: ${e.message}`)));
    sock.connect(port, host, () => sock.write(script));
  });
}
