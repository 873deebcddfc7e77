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

/**
 * Runs `cmd` in the guest. Two phases on one connection: the guest shell first answers a hello, and only then is
 * the command sent. busybox `nc -ll` now and then accepts a connection and never serves it (seen right after boot
 * with parallel connections); without a hello the command has certainly not run, so the connection is dropped and
 * retried, and no command can ever run twice.
 */
export async function controlExec(
  host: string,
  port: number,
  cmd: string,
  opts: ExecOptions = {},
): Promise<ExecResult> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  let lastErr: Error | undefined;
  for (let attempt = 0; attempt < 4; attempt++) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    try {
      return await execOnce(host, port, cmd, left, Math.min(left, 5_000 * (attempt + 1)));
    } catch (e) {
      if (!(e instanceof NoHelloError)) throw e;
      lastErr = e;
    }
  }
  throw new Error(
    `VM exec timed out after ${timeoutMs} ms (control shell never answered): ${cmd.slice(0, 200)}` +
      (lastErr ? ` (${lastErr.message})` : ''),
  );
}

class NoHelloError extends Error {}

function execOnce(host: string, port: number, cmd: string, timeoutMs: number, helloMs: number): Promise<ExecResult> {
  const tag = randomBytes(6).toString('hex');
  const hello = `__STAS_HELLO_${tag}`;
  const marker = `__STAS_RC_${tag}=`;
  const script = `(\n${cmd}\n) </dev/null 2>&1\necho "${marker}$?"\nexit\n`;
  return new Promise<ExecResult>((resolve, reject) => {
    const sock = new Socket();
    const chunks: Buffer[] = [];
    let settled = false;
    let greeted = false;
    let bodyStart = 0;
    const finish = (err: Error | null, res?: ExecResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(helloTimer);
      sock.destroy();
      if (err) reject(err);
      else resolve(res as ExecResult);
    };
    const text = (): string => Buffer.concat(chunks).toString('utf8');
    const timer = setTimeout(() => {
      finish(
        new Error(
          `VM exec timed out after ${timeoutMs} ms: ${cmd.slice(0, 200)}\n--- output so far ---\n${text().slice(-2000)}`,
        ),
      );
    }, timeoutMs);
    const helloTimer = setTimeout(() => {
      if (!greeted) finish(new NoHelloError(`no hello from ${host}:${port} within ${helloMs} ms`));
    }, helloMs);
    const parse = (): boolean => {
      const all = text().slice(bodyStart);
      const i = all.lastIndexOf(marker);
      if (i < 0) return false;
      const m = /^(\d+)\n/.exec(all.slice(i + marker.length));
      if (!m) return false;
      finish(null, { code: Number(m[1]), out: all.slice(0, i) });
      return true;
    };
    sock.on('data', (d: Buffer) => {
      chunks.push(d);
      if (!greeted) {
        const all = text();
        const i = all.indexOf(`${hello}\n`);
        if (i < 0) return;
        greeted = true;
        bodyStart = i + hello.length + 1;
        sock.write(script);
      }
      parse();
    });
    sock.on('end', () => {
      if (!greeted) finish(new NoHelloError(`${host}:${port} closed before the hello`));
      else if (!parse())
        finish(
          new Error(`VM control channel ${host}:${port} closed without an exit code; output: ${text().slice(-2000)}`),
        );
    });
    sock.on('error', (e) => finish(new Error(`VM control channel ${host}:${port}: ${e.message}`)));
    sock.connect(port, host, () => sock.write(`echo ${hello}\n`));
  });
}
