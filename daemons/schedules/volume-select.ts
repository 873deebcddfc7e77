// Which volumes a schedule covers: exact names, shell-style globs (* ? [abc]) and `label:key=value`.
import type { VolumeRef } from './snapshot-store.js';
import { ValueError } from './errors.js';

export type VolumeSelector =
  | { kind: 'name'; text: string; name: string }
  | { kind: 'glob'; text: string; re: RegExp }
  | { kind: 'label'; text: string; key: string; value: string | undefined };

const NAME_RE = /^[A-Za-z0-9_.:@+-]+$/;

function globToRegExp(glob: string): RegExp {
  let re = '^';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) throw new ValueError(`glob "${glob}": unterminated "["`);
      let body = glob.slice(i + 1, end);
      if (body.startsWith('!')) body = '^' + body.slice(1);
      re += `[${body.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(re + '$');
}

export function parseVolumeSelector(text: string): VolumeSelector {
  if (text.startsWith('label:')) {
    const body = text.slice('label:'.length);
    const eq = body.indexOf('=');
    const key = eq < 0 ? body : body.slice(0, eq);
    if (!/^[A-Za-z0-9_./-]+$/.test(key))
      throw new ValueError(`"${text}": label key "${key}" is empty or has invalid characters`);
    return { kind: 'label', text, key, value: eq < 0 ? undefined : body.slice(eq + 1) };
  }
  if (/[*?[]/.test(text)) return { kind: 'glob', text, re: globToRegExp(text) };
  if (!NAME_RE.test(text)) throw new ValueError(`"${text}" is not a volume name, glob or label:key=value`);
  return { kind: 'name', text, name: text };
}

/** Volumes given as a list separated by spaces or commas. */
export function parseVolumeSelectors(text: string): VolumeSelector[] {
  const items = text.split(/[\s,]+/).filter(Boolean);
  if (items.length === 0) throw new ValueError('no volumes given (names, globs or label:key=value)');
  return items.map(parseVolumeSelector);
}

function matches(sel: VolumeSelector, v: VolumeRef): boolean {
  switch (sel.kind) {
    case 'name':
      return v.name === sel.name;
    case 'glob':
      return sel.re.test(v.name);
    case 'label':
      return sel.value === undefined ? sel.key in v.labels : v.labels[sel.key] === sel.value;
  }
}

export interface Selection {
  /** matched volume names, in the store's order */
  volumes: string[];
  /** exact names that match no volume */
  unknown: string[];
}

export function selectVolumes(selectors: readonly VolumeSelector[], volumes: readonly VolumeRef[]): Selection {
  const picked = volumes.filter((v) => selectors.some((s) => matches(s, v))).map((v) => v.name);
  const unknown = selectors
    .filter(
      (s): s is Extract<VolumeSelector, { kind: 'name' }> =>
        s.kind === 'name' && !volumes.some((v) => v.name === s.name),
    )
    .map((s) => s.name);
  return { volumes: picked, unknown };
}
