// Reads a D-Bus introspection XML file (the single source of truth in dbus-interfaces/) into member specs.
import { readFileSync } from 'node:fs';
import { parseString } from 'xml2js';

export type PropertyAccess = 'read' | 'write' | 'readwrite';

export interface ArgSpec {
  name: string;
  type: string;
  direction: 'in' | 'out';
}
export interface MethodSpec {
  name: string;
  inSignature: string;
  outSignature: string;
  args: ArgSpec[];
}
export interface PropertySpec {
  name: string;
  type: string;
  access: PropertyAccess;
}
export interface SignalSpec {
  name: string;
  signature: string;
  args: ArgSpec[];
}
export interface InterfaceSpec {
  name: string;
  methods: MethodSpec[];
  properties: PropertySpec[];
  signals: SignalSpec[];
}
export interface IntrospectionFile {
  path: string;
  /** the file's text, returned verbatim by Introspect */
  xml: string;
  interfaces: InterfaceSpec[];
}

interface XmlAttrs {
  $?: Record<string, string>;
}
type XmlArg = XmlAttrs;
interface XmlMember extends XmlAttrs {
  arg?: XmlArg[];
}
interface XmlInterface extends XmlAttrs {
  method?: XmlMember[];
  property?: XmlAttrs[];
  signal?: XmlMember[];
}
interface XmlNode {
  node?: { interface?: XmlInterface[] };
}

function attr(el: XmlAttrs, key: string, where: string): string {
  const v = el.$?.[key];
  if (v === undefined) throw new Error(`${where}: missing attribute "${key}"`);
  return v;
}

function args(member: XmlMember, where: string, defaultDirection: 'in' | 'out'): ArgSpec[] {
  return (member.arg ?? []).map((a, i) => {
    const dir = a.$?.direction ?? defaultDirection;
    if (dir !== 'in' && dir !== 'out') throw new Error(`${where}: arg ${i} has bad direction "${dir}"`);
    return { name: a.$?.name ?? `arg_${i}`, type: attr(a, 'type', `${where} arg ${i}`), direction: dir };
  });
}

export function parseIntrospection(xml: string, path = '<string>'): IntrospectionFile {
  let doc: XmlNode | undefined;
  let err: Error | null = null;
  // xml2js parses synchronously when async is false (its default); the callback runs before parseString returns
  parseString(xml, (e: Error | null, result: XmlNode) => {
    err = e;
    doc = result;
  });
  if (err) throw new Error(`${path}: ${(err as Error).message}`);
  if (!doc?.node) throw new Error(`${path}: no <node> root element`);
  const interfaces = (doc.node.interface ?? []).map((i): InterfaceSpec => {
    const name = attr(i, 'name', path);
    const where = `${path}: interface ${name}`;
    return {
      name,
      methods: (i.method ?? []).map((m) => {
        const mname = attr(m, 'name', where);
        const a = args(m, `${where}.${mname}`, 'in');
        return {
          name: mname,
          args: a,
          inSignature: a
            .filter((x) => x.direction === 'in')
            .map((x) => x.type)
            .join(''),
          outSignature: a
            .filter((x) => x.direction === 'out')
            .map((x) => x.type)
            .join(''),
        };
      }),
      properties: (i.property ?? []).map((p) => {
        const access = attr(p, 'access', where);
        if (access !== 'read' && access !== 'write' && access !== 'readwrite')
          throw new Error(`${where}: bad property access "${access}"`);
        return { name: attr(p, 'name', where), type: attr(p, 'type', where), access };
      }),
      signals: (i.signal ?? []).map((s) => {
        const sname = attr(s, 'name', where);
        const a = args(s, `${where}.${sname}`, 'out');
        return { name: sname, args: a, signature: a.map((x) => x.type).join('') };
      }),
    };
  });
  return { path, xml, interfaces };
}

const cache = new Map<string, IntrospectionFile>();

export function loadIntrospection(file: string): IntrospectionFile {
  let f = cache.get(file);
  if (!f) {
    f = parseIntrospection(readFileSync(file, 'utf8'), file);
    cache.set(file, f);
  }
  return f;
}
