// Child process of usage-flood.local.test.ts, run as `nobody`: many connections (unique names) each send several
// Volume1.Usage calls at once, as an unprivileged client flooding stacd would. Prints one JSON summary line.
// Not a test file itself. Usage: node usage-flood-child.js <volume object path> <connections> <calls per connection>
import { connectSystemBus, waitConnected, callMethod, type MessageBus } from '../../daemons/dbus/bus.js';

const [path, nConn, perConn] = process.argv.slice(2);
const buses: MessageBus[] = [];
for (let i = 0; i < Number(nConn); i++) {
  const b = connectSystemBus();
  await waitConnected(b, 30_000);
  buses.push(b);
}
const outcome = new Map<string, number>();
const started = Date.now();
await Promise.all(
  buses.flatMap((b) =>
    Array.from({ length: Number(perConn) }, async () => {
      let key = 'ok';
      try {
        await callMethod(
          b,
          {
            destination: 'org.nvmexpress.stac',
            path: path!,
            interface: 'org.nvmexpress.stac.Volume1',
            member: 'Usage',
          },
          120_000,
        );
      } catch (e) {
        key = (e as { type?: string }).type ?? String(e);
      }
      outcome.set(key, (outcome.get(key) ?? 0) + 1);
    }),
  ),
);
process.stdout.write(JSON.stringify({ outcome: Object.fromEntries(outcome), ms: Date.now() - started }) + '\n');
for (const b of buses) b.disconnect();
process.exit(0);
