/**
 * A loopback TCP proxy the test controls: forwards to a target, and can cut every live
 * connection (both ways, abruptly) or refuse new ones, to simulate network cuts.
 */
import net from 'node:net';

export interface TcpProxy { port: number; cut(): void; setDown(down: boolean): void; close(): Promise<void>; bytes(): number }

export function startTcpProxy(targetPort: number, listenPort = 0): Promise<TcpProxy> {
  const live = new Set<net.Socket>();
  let down = false, bytes = 0;
  const server = net.createServer((client) => {
    if (down) { client.destroy(); return; }
    const upstream = net.connect(targetPort, '127.0.0.1');
    live.add(client); live.add(upstream);
    const drop = () => { client.destroy(); upstream.destroy(); live.delete(client); live.delete(upstream); };
    client.on('data', (d) => { bytes += d.length; });
    client.pipe(upstream); upstream.pipe(client);
    client.on('error', drop); upstream.on('error', drop); client.on('close', drop); upstream.on('close', drop);
  });
  return new Promise((resolve) => server.listen(listenPort, '127.0.0.1', () => resolve({
    port: (server.address() as net.AddressInfo).port,
    cut: () => { for (const s of live) s.destroy(); live.clear(); },
    setDown: (d) => { down = d; },
    bytes: () => bytes,
    close: () => new Promise((r) => { for (const s of live) s.destroy(); server.close(() => r()); }),
  })));
}
