// QMP wire framing, pure: the monitor speaks one JSON object per line (CRLF), and every server message is
// a greeting, a command's return or error (matched by the id we sent), or an asynchronous event.

export interface QmpGreeting {
  kind: 'greeting';
  version: string;
  capabilities: string[];
}
export interface QmpReturn {
  kind: 'return';
  id: string | undefined;
  value: unknown;
}
export interface QmpErrorReply {
  kind: 'error';
  id: string | undefined;
  errorClass: string;
  desc: string;
}
export interface QmpEvent {
  kind: 'event';
  event: string;
  data: Record<string, unknown>;
  /** unix seconds with microseconds */
  timestamp: number;
}
export type QmpMessage = QmpGreeting | QmpReturn | QmpErrorReply | QmpEvent;

/** A line that is not QMP: the peer is not a QEMU monitor, or the stream is corrupt. */
export class QmpProtocolError extends Error {
  override readonly name = 'QmpProtocolError';
}

/** Longest line accepted: a query of a few thousand nodes stays well under it; a runaway peer does not. */
export const MAX_LINE = 16 * 1024 * 1024;

/** Splits a byte stream into lines; keeps the unterminated rest for the next chunk. */
export class LineSplitter {
  private rest = '';

  push(chunk: string): string[] {
    const parts = (this.rest + chunk).split('\n');
    this.rest = parts.pop() ?? '';
    if (this.rest.length > MAX_LINE) throw new QmpProtocolError(`QMP line longer than ${MAX_LINE} bytes`);
    return parts.map((l) => l.replace(/\r$/, '')).filter((l) => l.trim() !== '');
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Classifies one line from the monitor. */
export function parseQmpLine(line: string): QmpMessage {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw new QmpProtocolError(`not JSON: ${line.slice(0, 120)}`);
  }
  if (!isObject(v)) throw new QmpProtocolError(`not a JSON object: ${line.slice(0, 120)}`);
  const id = typeof v.id === 'string' ? v.id : undefined;
  if (isObject(v.QMP)) {
    const ver = isObject(v.QMP.version) && isObject(v.QMP.version.qemu) ? v.QMP.version.qemu : {};
    const caps = Array.isArray(v.QMP.capabilities) ? v.QMP.capabilities.map(String) : [];
    return {
      kind: 'greeting',
      version: `${String(ver.major ?? '?')}.${String(ver.minor ?? '?')}.${String(ver.micro ?? '?')}`,
      capabilities: caps,
    };
  }
  if ('return' in v) return { kind: 'return', id, value: v.return };
  if (isObject(v.error))
    return { kind: 'error', id, errorClass: String(v.error.class ?? 'GenericError'), desc: String(v.error.desc ?? '') };
  if (typeof v.event === 'string') {
    const ts = isObject(v.timestamp)
      ? Number(v.timestamp.seconds ?? 0) + Number(v.timestamp.microseconds ?? 0) / 1e6
      : 0;
    return { kind: 'event', event: v.event, data: isObject(v.data) ? v.data : {}, timestamp: ts };
  }
  throw new QmpProtocolError(`unknown QMP message: ${line.slice(0, 120)}`);
}

/** One command on the wire. */
export function encodeQmpCommand(execute: string, args: Record<string, unknown> | undefined, id: string): string {
  return JSON.stringify(args === undefined ? { execute, id } : { execute, arguments: args, id }) + '\r\n';
}
