// Starts real chatwire-server processes for the tests: each test gets its
// own server on a free port, and can kill and restart it.
import { spawn, ChildProcess } from 'node:child_process';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
export const SERVER_BIN =
  process.env.CHATWIRE_SERVER_BIN ?? path.join(ROOT, 'target/release/chatwire-server');
export const DIST = process.env.CHATWIRE_DIST ?? path.join(ROOT, 'dist');

export interface ReplyRecord {
  request: {
    id: string;
    messages: { role: string; content: string }[];
    params: { temperature?: number; top_p?: number; max_tokens?: number };
  };
  model: string;
  tokens_sent: number;
  text: string;
  finish_reason: string | null;
}

export class Server {
  private proc: ChildProcess | null = null;
  port = 0;
  private log: string[] = [];

  /** Scripted engine unless the arguments name another. */
  constructor(private readonly extraArgs: string[] = ['--engine', 'scripted']) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts the server (on `this.port` after a restart, else a free port). */
  async start(): Promise<void> {
    const args = [
      '--dist', DIST,
      '--host', '127.0.0.1',
      '--port', String(this.port),
      '--debug-api',
      // The dialect peers listen on other local ports.
      '--connect-src', 'ws://127.0.0.1:*',
      ...this.extraArgs,
    ];
    const proc = spawn(SERVER_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    proc.stderr!.on('data', (d) => this.log.push(String(d)));
    this.port = await new Promise<number>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`server did not start:\n${this.logs()}`)), 15_000);
      proc.stdout!.on('data', (d) => {
        out += String(d);
        const m = out.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      proc.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`server exited with ${code}:\n${this.logs()}`));
      });
    });
  }

  /** Kills the process (SIGKILL by default: no goodbye to clients). */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill(signal);
    await exited;
    this.proc = null;
  }

  async restart(): Promise<void> {
    await this.kill();
    await this.start();
  }

  logs(): string {
    return this.log.join('');
  }

  async replies(): Promise<ReplyRecord[]> {
    const res = await fetch(`${this.url}/debug/replies`);
    if (!res.ok) throw new Error(`/debug/replies: ${res.status}`);
    return (await res.json()) as ReplyRecord[];
  }

  async lastReply(): Promise<ReplyRecord | undefined> {
    const all = await this.replies();
    return all[all.length - 1];
  }
}
