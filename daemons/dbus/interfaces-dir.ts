// Where the introspection XML files live: $STAS_DBUS_INTERFACES_DIR, the source tree's dbus-interfaces/
// (development and tests), or the installed /usr/share/dbus-1/interfaces.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const INSTALLED = '/usr/share/dbus-1/interfaces';

export function interfacesDir(): string {
  const env = process.env.STAS_DBUS_INTERFACES_DIR;
  if (env) return env;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'dbus-interfaces');
    if (existsSync(join(candidate, 'org.nvmexpress.staf.xml'))) return candidate;
    dir = dirname(dir);
  }
  return INSTALLED;
}

export function interfaceFile(name: string): string {
  return join(interfacesDir(), `${name}.xml`);
}
