// Starts a seed peer (e2e/peers/<dialect>_peer.py): a real server that
// behaves as its seed describes and records what it received.
import { spawn, ChildProcess } from 'node:child_process';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
const PYTHON = process.env.CHATWIRE_PEERS_PYTHON ?? path.join(ROOT, '.cache/peers-venv/bin/python');

export type Dialect = 'qwen' | 'socketio' | 'nexlm' | 'session';

export interface Generation {
  message: string;
  sent: string[];
  text: string;
  state: 'running' | 'completed' | 'stopped' | 'cancelled' | 'closed' | 'failed';
  history_len: number;
}

export interface PeerRecord {
  received: Record<string, any>[];
  connections: Record<string, any>[];
  generations: Generation[];
}

export class Peer {
  private proc: ChildProcess | null = null;
  port = 0;
  private log: string[] = [];

  constructor(readonly dialect: Dialect, private readonly env: Record<string, string> = {}) {}

  get http(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get ws(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const script = path.join(ROOT, 'e2e/peers', `${this.dialect}_peer.py`);
    const proc = spawn(PYTHON, [script], {
      cwd: path.join(ROOT, 'e2e/peers'),
      env: { ...process.env, ...this.env, PYTHONUNBUFFERED: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = proc;
    proc.stderr!.on('data', (d) => this.log.push(String(d)));
    this.port = await new Promise<number>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`${this.dialect} peer did not start:\n${this.log.join('')}`)), 20_000);
      proc.stdout!.on('data', (d) => {
        out += String(d);
        const m = out.match(/peer listening on http:\/\/127\.0\.0\.1:(\d+)/);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      proc.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${this.dialect} peer exited with ${code}:\n${this.log.join('')}`));
      });
    });
  }

  async kill(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGKILL');
    await exited;
    this.proc = null;
  }

  async record(): Promise<PeerRecord> {
    const res = await fetch(`${this.http}/debug/received`);
    if (!res.ok) throw new Error(`/debug/received: ${res.status}`);
    return (await res.json()) as PeerRecord;
  }
}
