/**
 * A TCP forwarder on a fixed local port that can be switched off (the port refuses
 * connections and open ones are cut, as when a server goes down) and on again at the
 * same address, so a client configured with that endpoint reconnects by itself.
 */
import net from "node:net";

export interface TcpSwitch {
  endpoint: string;
  off(): Promise<void>;
  on(): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpSwitch(target: string): Promise<TcpSwitch> {
  const { hostname, port: targetPort } = new URL(target);
  const sockets = new Set<net.Socket>();
  let server: net.Server | null = null;
  let port = 0;

  const listen = async (): Promise<void> => {
    server = net.createServer((client) => {
      const upstream = net.connect(Number(targetPort), hostname);
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on("close", () => sockets.delete(s));
        s.on("error", () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server!.listen(port, "127.0.0.1", resolve));
    port = (server!.address() as net.AddressInfo).port;
  };
  const stop = async (): Promise<void> => {
    const s = server;
    server = null;
    if (!s) return;
    const closed = new Promise<void>((resolve) => s.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await closed;
  };

  await listen();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    off: stop,
    on: async () => {
      if (!server) await listen();
    },
    close: stop,
  };
}
