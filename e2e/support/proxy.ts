// A TCP relay between the browser and the server, to cut the network
// while the server keeps running: while cut, every connection attempt is
// accepted and dropped at once (and counted), open ones are destroyed.
import * as net from 'node:net';

export class Relay {
  private server: net.Server | null = null;
  private sockets = new Set<net.Socket>();
  private cut = false;
  /** Connection attempts refused while cut. */
  refused = 0;
  port = 0;

  constructor(private readonly targetPort: () => number) {}

  async start(): Promise<void> {
    this.server = net.createServer((client) => {
      if (this.cut) {
        this.refused += 1;
        client.destroy();
        return;
      }
      const upstream = net.connect(this.targetPort(), '127.0.0.1');
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      client.pipe(upstream);
      upstream.pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server!.address() as net.AddressInfo).port;
  }

  /** Cuts every connection and refuses new ones. */
  cutOff(): void {
    this.cut = true;
    this.refused = 0;
    for (const s of this.sockets) s.destroy();
  }

  restore(): void {
    this.cut = false;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** The app's query string to connect through this relay. */
  query(): string {
    return `?backend=${encodeURIComponent(`ws://127.0.0.1:${this.port}/ws`)}`;
  }
}
