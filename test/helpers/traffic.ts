import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestContext } from 'node:test';
import { findOrInstallHaproxy, WITHOUT_HAPROXY } from '../../scripts/lib/haproxy';
import { freePort } from '../../scripts/lib/dev-server';
import { FrontDoor, type FrontDoorOptions } from '../../src/traffic';
import { processAlive } from '../../src/traffic/processes';

export { freePort };

export const VERSION_SERVER = path.join(__dirname, '..', 'fixtures', 'traffic', 'version-server.js');

/** haproxy for the traffic tests, installed when missing and possible; otherwise the reason to skip with. */
export async function haproxyForTests(): Promise<{ path: string } | { skip: string }> {
  const found = await findOrInstallHaproxy();
  return found.found ? { path: found.path } : { skip: `no haproxy for the traffic tests: ${found.reason.replace(/\.*$/, '.')} ${WITHOUT_HAPROXY}` };
}

/** Skips the test with the reason when haproxy is missing; true when skipped. */
export function skipWithout(t: TestContext, skipReason: string | undefined): boolean {
  if (!skipReason) return false;
  t.skip(skipReason);
  return true;
}

export interface VersionServer {
  version: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** A real release stand-in: a Node http server in its own process answering `version` on a free port. */
export async function startVersionServer(version: string): Promise<VersionServer> {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, [VERSION_SERVER], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', VERSION: version, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      if (out.includes('listening')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`version server ${version} exited (${code}) before listening on ${port}`)));
    child.once('error', reject);
  });
  return {
    version,
    port,
    pid: child.pid!,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** A short temp directory for a front door (its socket path must fit in 107 bytes). */
export function frontDoorDir(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'fd-'));
}

/** Tracks everything a test file starts, and removes it in after(). */
export class TrafficWorld {
  private readonly servers: VersionServer[] = [];
  private readonly doors: FrontDoor[] = [];
  private readonly dirs: string[] = [];
  readonly progress: string[] = [];

  async versionServer(version: string): Promise<VersionServer> {
    const server = await startVersionServer(version);
    this.servers.push(server);
    return server;
  }

  async frontDoor(overrides: Partial<FrontDoorOptions> = {}): Promise<FrontDoor> {
    const directory = await frontDoorDir();
    this.dirs.push(directory);
    const door = new FrontDoor({
      name: 'test-front-door',
      publicPort: await freePort(),
      directory,
      onProgress: (m) => this.progress.push(m),
      ...overrides,
    });
    this.doors.push(door);
    return door;
  }

  async cleanup(): Promise<void> {
    for (const door of this.doors) {
      await door.stop({ graceMs: 1_000 }).catch(async () => {
        const pid = Number.parseInt(await fs.readFile(door.files.pidFile, 'utf8').catch(() => ''), 10);
        if (pid > 1 && (await processAlive(pid))) process.kill(-pid, 'SIGKILL');
      });
    }
    for (const server of this.servers) await server.stop();
    for (const dir of this.dirs) await fs.rm(dir, { recursive: true, force: true });
  }
}

/** Polls `probe` until it returns a value (not undefined/false), or fails naming `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

/** Answers of the example service counted by the version in their body (a load report's `byBody`). */
export function versionsIn(byBody: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [body, n] of Object.entries(byBody)) {
    const v = /"version":"([^"]+)"/.exec(body)?.[1] ?? body;
    out[v] = (out[v] ?? 0) + n;
  }
  return out;
}
