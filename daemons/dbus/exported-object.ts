// Exports one D-Bus object whose interfaces are built at run time from an introspection XML file.
// The implementation is a plain object keyed by member name; this module is the only place that
// knows dbus-next's Interface internals, so swapping the library touches nothing else.
//
// dbus-next traps handled here (see the D-Bus recipe):
//  - Introspect returns the XML file verbatim (dbus-next's generator drops arg names);
//  - Properties.Set is answered here: read-only properties are refused with InvalidArgs (as nvme-stas)
//    without dbus-next's double reply and without assigning the value;
//  - implementation errors become D-Bus errors without stack traces.
import dbus from 'dbus-next';
import { log } from '../common/log.js';
import type { MessageBus, Message } from './bus.js';
import { DBUS_ERR_INVALID_ARGS, toDBusError, dbusError } from './errors.js';
import { loadIntrospection, type InterfaceSpec, type IntrospectionFile } from './introspection.js';
import { MAX_REPLY_BODY_BYTES, replyBodyBound } from './reply-size.js';
import { runAsCaller } from './caller.js';

/** D-Bus values as dbus-next marshals them (strings, numbers, booleans, bigint, arrays, plain objects, Variants). */
export type DBusValue = unknown;

export interface PropertyImpl {
  get(): DBusValue;
  /** absent for read-only properties; may throw a DBusError to refuse a value */
  set?(value: DBusValue): void;
}

export interface InterfaceImpl {
  // never[] so that implementations can declare precise parameter types (the XML signature guarantees them)
  methods?: Record<string, (...args: never[]) => DBusValue | Promise<DBusValue>>;
  properties?: Record<string, PropertyImpl>;
}

type Impls = Record<string, InterfaceImpl>;

interface DynamicInterface extends dbus.interface.Interface {
  [member: string]: unknown;
}

const MessageCtor = dbus.Message as unknown as {
  newMethodReturn(msg: Message, signature?: string, body?: unknown[]): Message;
  newError(msg: Message, name: string, text?: string): Message;
};

/** `org.nvmexpress.staf.Error.ReplyTooLarge` for any interface of stafd (stac for stacd's). */
export function replyTooLargeErrorName(iface: string): string {
  return `${iface.split('.').slice(0, 3).join('.')}.Error.ReplyTooLarge`;
}

/** methods whose last reply was refused as too large: logged once until one fits again */
const refusedReplies = new Set<string>();

/** Refuses (with a named error, logged once) a reply the bus daemon would not carry; see reply-size.ts. */
function checkReplySize(iface: string, member: string, outSignature: string, result: DBusValue): void {
  const key = `${iface}.${member}`;
  const bytes = replyBodyBound(outSignature, result);
  if (bytes <= MAX_REPLY_BODY_BYTES) {
    if (refusedReplies.delete(key)) log().info(`${key}: the reply fits the D-Bus message limit again (${bytes} bytes)`);
    return;
  }
  const text = `the reply of ${member} would be ${bytes} bytes, more than the D-Bus message limit (${MAX_REPLY_BODY_BYTES} bytes); refused`;
  if (!refusedReplies.has(key)) {
    refusedReplies.add(key);
    log().error(`${key}: ${text} (logged once until a reply fits again)`);
  }
  throw dbusError(replyTooLargeErrorName(iface), text);
}

/** The method call dbus-next is about to hand to an implementation: set by ExportedObject's method handler, which
 *  dbus-next runs just before it calls the implementation in the same tick (its API does not pass the message on). */
let dispatching: Message | undefined;

function buildInterface(bus: MessageBus, spec: InterfaceSpec, impl: InterfaceImpl, file: string): DynamicInterface {
  const Cls = class extends dbus.interface.Interface {};
  const proto = Cls.prototype as unknown as Record<string, unknown>;
  const methods: Record<string, dbus.interface.MethodOptions> = {};
  const properties: Record<string, dbus.interface.PropertyOptions> = {};
  const signals: Record<string, dbus.interface.SignalOptions> = {};

  for (const m of spec.methods) {
    const fn = impl.methods?.[m.name];
    if (!fn) throw new Error(`${file}: no implementation for method ${spec.name}.${m.name}`);
    proto[m.name] = async function (...args: never[]): Promise<DBusValue> {
      const msg = dispatching?.interface === spec.name && dispatching.member === m.name ? dispatching : undefined;
      dispatching = undefined;
      try {
        const result = await runAsCaller(bus, msg?.sender, () => fn(...args));
        checkReplySize(spec.name, m.name, m.outSignature, result);
        return result;
      } catch (e) {
        const err = toDBusError(e);
        log().debug({ iface: spec.name, member: m.name, err: err.text }, 'method failed');
        throw err;
      }
    };
    methods[m.name] = { inSignature: m.inSignature, outSignature: m.outSignature };
  }
  for (const p of spec.properties) {
    const pi = impl.properties?.[p.name];
    if (!pi) throw new Error(`${file}: no implementation for property ${spec.name}.${p.name}`);
    if (p.access !== 'read' && !pi.set)
      throw new Error(`${file}: property ${spec.name}.${p.name} is writable but has no setter`);
    Object.defineProperty(proto, p.name, {
      get: () => pi.get(),
      set: (v: DBusValue) => pi.set?.(v),
      configurable: true,
    });
    properties[p.name] = { signature: p.type, access: p.access };
  }
  for (const s of spec.signals) {
    // the signal method returns its arguments; dbus-next marshals them with the signature
    proto[s.name] = function (...args: unknown[]): unknown {
      return s.args.length === 1 ? args[0] : args;
    };
    signals[s.name] = { signature: s.signature };
  }
  Cls.configureMembers({ methods, properties, signals });
  return new Cls(spec.name) as DynamicInterface;
}

export class ExportedObject {
  private readonly ifaces = new Map<string, { spec: InterfaceSpec; iface: DynamicInterface; impl: InterfaceImpl }>();
  private readonly handler: (msg: Message) => boolean;
  private exported = true;

  private constructor(
    readonly bus: MessageBus,
    readonly path: string,
    readonly introspection: IntrospectionFile,
    impls: Impls,
  ) {
    for (const spec of introspection.interfaces) {
      const impl = impls[spec.name];
      if (!impl) throw new Error(`${introspection.path}: no implementation for interface ${spec.name}`);
      const iface = buildInterface(bus, spec, impl, introspection.path);
      this.ifaces.set(spec.name, { spec, iface, impl });
      bus.export(path, iface);
    }
    this.handler = (msg) => this.handleStandard(msg);
    bus.addMethodHandler(this.handler);
  }

  /** Exports `impls` at `path` with the interfaces declared in `xmlFile`. */
  static create(bus: MessageBus, path: string, xmlFile: string, impls: Impls): ExportedObject {
    return new ExportedObject(bus, path, loadIntrospection(xmlFile), impls);
  }

  emitSignal(iface: string, name: string, ...args: DBusValue[]): void {
    const entry = this.ifaces.get(iface);
    if (!entry || !this.exported) return;
    const fn = entry.iface[name];
    if (typeof fn !== 'function') throw new Error(`no signal ${iface}.${name}`);
    (fn as (...a: DBusValue[]) => void).apply(entry.iface, args);
  }

  emitPropertiesChanged(iface: string, changed: Record<string, DBusValue>, invalidated: string[] = []): void {
    const entry = this.ifaces.get(iface);
    if (!entry || !this.exported) return;
    dbus.interface.Interface.emitPropertiesChanged(entry.iface, changed, invalidated);
  }

  unexport(): void {
    if (!this.exported) return;
    this.exported = false;
    // An ExportedObject owns its path. (dbus-next's per-interface unexport drops the whole path after the first
    // interface and then throws on the second: its `interfaces.length` test is on an object.)
    this.bus.unexport(this.path, undefined as unknown as dbus.interface.Interface);
    this.bus.removeMethodHandler(this.handler);
  }

  /** Child node names of this path among everything exported on the bus (for Introspect). */
  private children(): string[] {
    const objects = (this.bus as unknown as { _serviceObjects: Record<string, unknown> })._serviceObjects ?? {};
    const prefix = this.path === '/' ? '/' : `${this.path}/`;
    const names = new Set<string>();
    for (const p of Object.keys(objects)) {
      if (p.startsWith(prefix) && p.length > prefix.length) names.add(p.slice(prefix.length).split('/')[0]!);
    }
    return [...names].sort();
  }

  private introspectXml(): string {
    const kids = this.children();
    if (kids.length === 0) return this.introspection.xml;
    const nodes = kids.map((k) => `  <node name="${k}"/>\n`).join('');
    const i = this.introspection.xml.lastIndexOf('</node>');
    return this.introspection.xml.slice(0, i) + nodes + this.introspection.xml.slice(i);
  }

  private reply(msg: Message, signature: string, body: unknown[]): void {
    this.bus.send(MessageCtor.newMethodReturn(msg, signature, body));
  }

  private replyError(msg: Message, name: string, text: string): void {
    this.bus.send(MessageCtor.newError(msg, name, text));
  }

  private handleStandard(msg: Message): boolean {
    if (msg.path !== this.path || !this.exported) return false;
    dispatching = msg;
    if (msg.interface === 'org.freedesktop.DBus.Introspectable' && msg.member === 'Introspect' && !msg.signature) {
      this.reply(msg, 's', [this.introspectXml()]);
      return true;
    }
    if (msg.interface === 'org.freedesktop.DBus.Properties' && msg.member === 'Set') {
      this.handleSet(msg);
      return true;
    }
    return false;
  }

  private handleSet(msg: Message): void {
    if (msg.signature !== 'ssv') {
      this.replyError(msg, DBUS_ERR_INVALID_ARGS, `Properties.Set expects signature "ssv", got "${msg.signature}"`);
      return;
    }
    const [ifaceName, prop, variant] = msg.body as [string, string, dbus.Variant];
    const entry = this.ifaces.get(ifaceName);
    const spec = entry?.spec.properties.find((p) => p.name === prop);
    if (!entry || !spec) {
      this.replyError(msg, DBUS_ERR_INVALID_ARGS, `No such property: ${ifaceName}.${prop}`);
      return;
    }
    if (spec.access === 'read') {
      this.replyError(msg, DBUS_ERR_INVALID_ARGS, `Property ${ifaceName}.${prop} is not writable`);
      return;
    }
    if (variant.signature !== spec.type) {
      this.replyError(
        msg,
        DBUS_ERR_INVALID_ARGS,
        `Property ${ifaceName}.${prop} has type "${spec.type}", got "${variant.signature}"`,
      );
      return;
    }
    try {
      entry.impl.properties?.[prop]?.set?.(variant.value as DBusValue);
    } catch (e) {
      const err = toDBusError(e);
      this.replyError(msg, err.type, err.text);
      return;
    }
    this.reply(msg, '', []);
  }
}

/** Until the returned function is called, every method call to a path in `prefixes` (or below) is answered with
 *  the error `name`: for objects that appear only once start-up work is done, so clients see why, not UnknownMethod. */
export function answerWithError(bus: MessageBus, prefixes: readonly string[], name: string, text: string): () => void {
  const handler = (msg: Message): boolean => {
    const path = msg.path ?? '';
    if (!prefixes.some((p) => path === p || path.startsWith(`${p}/`))) return false;
    bus.send(MessageCtor.newError(msg, name, text));
    return true;
  };
  bus.addMethodHandler(handler);
  return () => bus.removeMethodHandler(handler);
}

export { dbusError };
