// Runs inside a test network namespace (ip netns exec): the fake NVMe/TCP discovery target on this namespace's
// loopback, reachable at <address>:<port> through a plain TCP relay (the fake target listens on 127.0.0.1 only).
// Prints "READY" once listening; exits on SIGTERM.
import net from 'node:net';
import { FakeTarget } from '../harness/fake-target/index.js';

const [address, portText, nqn] = process.argv.slice(2) as [string, string, string];
const target = await FakeTarget.start({ subsystems: [{ nqn, namespaces: [] }] });
const relay = net.createServer((client) => {
  const upstream = net.connect(target.port, '127.0.0.1');
  client.pipe(upstream).pipe(client);
  const end = (): void => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', end).on('close', end);
  upstream.on('error', end).on('close', end);
});
await new Promise<void>((resolve, reject) => {
  relay.once('error', reject);
  relay.listen(Number(portText), address, () => resolve());
});
console.log('READY');
process.on('SIGTERM', () => {
  relay.close();
  void target.stop().finally(() => process.exit(0));
});
