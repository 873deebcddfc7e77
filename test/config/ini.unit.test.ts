import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseIni } from '../../daemons/config/ini.js';

const texts = (doc: ReturnType<typeof parseIni>, s: string, o: string): string[] => doc.values(s, o).map((v) => v.text);

test('option names are case-insensitive, section names case-sensitive', () => {
  const doc = parseIni(
    '[Global]\nKATO = 5\n[global]\nkato = 6\n[Controllers]\nController = a\ncontroller = b\n',
    'f.conf',
  );
  assert.deepEqual(texts(doc, 'Global', 'kato'), ['5']);
  assert.deepEqual(texts(doc, 'global', 'kato'), ['6']);
  assert.deepEqual(texts(doc, 'Controllers', 'controller'), ['a', 'b']);
  assert.deepEqual([...doc.sections.keys()], ['Global', 'global', 'Controllers']);
});

test('= is the only delimiter; ; and # inside values are kept; no inline comments', () => {
  const doc = parseIni('[S]\na: b = c ; d # e\nx = host-iface=enp0s8   # Eliminate\n', 'f');
  assert.deepEqual(texts(doc, 'S', 'a: b'), ['c ; d # e']);
  assert.deepEqual(texts(doc, 'S', 'x'), ['host-iface=enp0s8   # Eliminate']);
});

test('whole-line comments with # or ; (indent allowed) are skipped', () => {
  const doc = parseIni('# c\n; c\n[S]\n  # indented comment\n\t; tab comment\nk = v\n', 'f');
  assert.deepEqual(texts(doc, 'S', 'k'), ['v']);
  assert.equal(doc.issues.length, 0);
});

test('repeated keys keep every value in file order with line numbers', () => {
  const doc = parseIni('[S]\nk = 1\nk = 2\n[T]\n[S]\nk = 3\n', 'my.conf');
  assert.deepEqual(texts(doc, 'S', 'k'), ['1', '2', '3']);
  assert.deepEqual(
    doc.values('S', 'k').map((v) => v.ref),
    [
      { file: 'my.conf', line: 2 },
      { file: 'my.conf', line: 3 },
      { file: 'my.conf', line: 6 },
    ],
  );
  assert.equal(doc.last('S', 'k')?.text, '3');
});

test('indented continuation lines add values; comments between do not end the value', () => {
  const doc = parseIni('[S]\nk = a\n    b\n# note\n    c\nj = x\n  [NotASection]\n', 'f');
  assert.deepEqual(texts(doc, 'S', 'k'), ['a', 'b', 'c']);
  assert.deepEqual(
    doc.values('S', 'k').map((v) => v.continuation),
    [false, true, true],
  );
  assert.deepEqual(texts(doc, 'S', 'j'), ['x', '[NotASection]']);
  assert.equal(doc.sections.has('NotASection'), false);
  assert.equal(doc.lastJoined('S', 'k')?.text, 'a\nb\nc');
});

test('an indented option line after a section header is an option, not a continuation', () => {
  const doc = parseIni('[S]\n  a = 1\n  b = 2\n    c\n', 'f');
  assert.deepEqual(texts(doc, 'S', 'a'), ['1']);
  assert.deepEqual(texts(doc, 'S', 'b'), ['2', 'c']);
});

test('section headers are as permissive as configparser', () => {
  const doc = parseIni('[Global] trailing text\nk=1\n[a]b]\nx=2\n', 'f');
  assert.deepEqual(texts(doc, 'Global', 'k'), ['1']);
  assert.deepEqual(texts(doc, 'a]b', 'x'), ['2']);
});

test('empty value, spaces around =, CRLF line ends', () => {
  const doc = parseIni('[S]\r\nk =\r\nj   =   v  v  \r\n', 'f');
  assert.deepEqual(texts(doc, 'S', 'k'), ['']);
  assert.deepEqual(texts(doc, 'S', 'j'), ['v  v']);
});

test('bare key, empty key and options before any section are skipped with a warning naming file:line', () => {
  const doc = parseIni('orphan = 1\n[S]\ntron\n  cont\n= x\nk = v\n', '/etc/stas/stafd.conf');
  assert.deepEqual(texts(doc, 'S', 'k'), ['v']);
  assert.deepEqual(doc.values('S', 'tron'), []);
  const msgs = doc.issues.map(String);
  assert.equal(msgs.length, 4);
  assert.match(msgs[0], /^\/etc\/stas\/stafd\.conf:1: "orphan = 1" appears before any \[section\] header; ignored$/);
  assert.match(msgs[1], /^\/etc\/stas\/stafd\.conf:3: \[S\] "tron" has no "=" and no value; ignored$/);
  assert.match(msgs[2], /^\/etc\/stas\/stafd\.conf:4: continuation line "cont"/);
  assert.match(msgs[3], /^\/etc\/stas\/stafd\.conf:5: \[S\] line "= x" has no option name/);
});

test('blank lines are not values, but are flagged where configparser would insert an empty one', () => {
  const doc = parseIni('[C]\nexclude = a\n\nexclude = b\n# c\nexclude = c\nexclude = d\n\n\n[D]\n', 'f');
  assert.deepEqual(texts(doc, 'C', 'exclude'), ['a', 'b', 'c', 'd']);
  assert.deepEqual(
    doc.values('C', 'exclude').map((v) => v.blankBefore),
    [false, true, false, false],
  );
});
