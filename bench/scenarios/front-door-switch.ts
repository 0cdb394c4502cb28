import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { findHaproxy } from '../../src/traffic/haproxy/binary';
import { FrontDoor } from '../../src/traffic/haproxy/front-door';
import { BACKEND_NAME } from '../../src/traffic/haproxy/config';
import { HaproxyRuntimeApi } from '../../src/traffic/haproxy/runtime-api';
import { startLoad, type LoadReport } from '../../src/traffic/load';
import type { DesiredServerInput } from '../../src/traffic/schema';
import { progress } from '../lib/progress';
import { round, summarize, type Summary } from '../lib/stats';

/**
 * The front door under repeated switches: two releases (Node http servers answering their version in their
 * own processes) behind a real haproxy, steady load from two clients (one reusing connections, one opening a
 * connection per request), and the front door cycling through every kind of switch a strategy makes —
 * weight flips, a 50/50 split, a removal (drain, maintenance, delete) and an addition — until at least
 * `--requests` requests were sent. Reports the failed requests and how long switches take: `apply()` end
 * to end (lock, record with fsync, read back, steps, verification) and one Runtime API round trip.
 *
 *   npx tsx bench/scenarios/front-door-switch.ts [--requests 12000] [--rate 400] [--interval-ms 150] [--json]
 */

export interface FrontDoorSwitchOptions {
  requests: number;
  ratePerSecond: number;
  intervalMs: number;
  roundTrips: number;
}

export interface FrontDoorSwitchResult {
  requests: number;
  failed: number;
  failedRatio: number;
  clients: Array<{ keepAlive: boolean; sent: number; answered: number; failed: number; byStatus: Record<string, number>; connectionFailures: Record<string, number>; timeouts: number; latencyMs: LoadReport['latencyMs']; byBody: Record<string, number> }>;
  switches: number;
  switchesByKind: Record<string, number>;
  /** apply() end to end, per switch. */
  applyMs: Summary;
  applyMsByKind: Record<string, Summary>;
  /** One `set server … weight` command: connect to the socket, send, read the answer. */
  runtimeApiRoundTripMs: Summary;
  haproxyVersion: string;
  achievedRatePerSecond: number;
  durationSeconds: number;
  machine: { nproc: number; loadAverageStart: number; loadAverageEnd: number; node: string };
}

type Cycle = { kind: string; servers: (ports: { a: number; b: number }) => DesiredServerInput[] };

/** One round of the switches the strategies make, ending where it started. */
const CYCLE: Cycle[] = [
  { kind: 'weights A→B', servers: ({ a, b }) => [{ name: 'a', port: a, weight: 0 }, { name: 'b', port: b, weight: 100 }] },
  { kind: 'remove A', servers: ({ b }) => [{ name: 'b', port: b, weight: 100 }] },
  { kind: 'add A at 50/50', servers: ({ a, b }) => [{ name: 'b', port: b, weight: 100 }, { name: 'a', port: a, weight: 100 }] },
  { kind: 'weights B→A', servers: ({ a, b }) => [{ name: 'b', port: b, weight: 0 }, { name: 'a', port: a, weight: 100 }] },
  { kind: 'remove B', servers: ({ a }) => [{ name: 'a', port: a, weight: 100 }] },
  { kind: 'add B at weight 0', servers: ({ a, b }) => [{ name: 'a', port: a, weight: 100 }, { name: 'b', port: b, weight: 0 }] },
];

export async function runFrontDoorSwitch(o: FrontDoorSwitchOptions): Promise<FrontDoorSwitchResult> {
  const haproxy = await findHaproxy();
  if (!haproxy.found) throw new Error(`${haproxy.reason} (npm run setup installs it)`);
  const started = Date.now();
  const loadAverageStart = os.loadavg()[0]!;
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'bench-fd-'));
  const releases: ChildProcess[] = [];
  let door: FrontDoor | undefined;
  try {
    const [a, b] = [await startRelease('A', releases), await startRelease('B', releases)];
    door = new FrontDoor({ name: 'bench', publicPort: await freePort(), directory: path.join(work, 'door') });
    await door.apply({ servers: [{ name: 'a', port: a, weight: 100 }, { name: 'b', port: b, weight: 0 }] });
    progress(`front door on 127.0.0.1:${door.publicPort} (haproxy ${haproxy.version}); releases A :${a}, B :${b}`);

    const url = `http://127.0.0.1:${door.publicPort}/`;
    const keepAliveRate = Math.max(1, Math.round(o.ratePerSecond * 0.8));
    const clients = [
      startLoad({ url, keepAlive: true, ratePerSecond: keepAliveRate, concurrency: 64, durationMs: 3_600_000 }),
      startLoad({ url, keepAlive: false, ratePerSecond: Math.max(1, o.ratePerSecond - keepAliveRate), concurrency: 32, durationMs: 3_600_000 }),
    ];
    const sent = () => clients.reduce((n, c) => n + c.snapshot().sent, 0);
    const applyTimes: Array<{ kind: string; ms: number }> = [];
    try {
      for (let i = 0; sent() < o.requests; i++) {
        const step = CYCLE[i % CYCLE.length]!;
        const t0 = performance.now();
        await door.apply({ servers: step.servers({ a, b }) });
        applyTimes.push({ kind: step.kind, ms: performance.now() - t0 });
        if (i % CYCLE.length === CYCLE.length - 1) progress(`${applyTimes.length} switches, ${sent()} requests sent`);
        await new Promise((r) => setTimeout(r, o.intervalMs));
      }
    } finally {
      for (const c of clients) await c.stop();
    }
    const reports = clients.map((c) => c.snapshot());

    // Round trip of one command, measured apart from the load so it is the socket's cost alone.
    const api = new HaproxyRuntimeApi(door.files.socket);
    const roundTrips: number[] = [];
    for (let i = 0; i < o.roundTrips; i++) {
      const t0 = performance.now();
      await api.setWeight(BACKEND_NAME, 'b', i % 2);
      roundTrips.push(performance.now() - t0);
    }

    const requests = reports.reduce((n, r) => n + r.sent, 0);
    const failed = reports.reduce((n, r) => n + r.failed, 0);
    const kinds = [...new Set(applyTimes.map((t) => t.kind))];
    const elapsed = Math.max(...reports.map((r) => r.elapsedMs));
    return {
      requests,
      failed,
      failedRatio: requests ? failed / requests : 0,
      clients: reports.map((r, i) => ({
        keepAlive: i === 0,
        sent: r.sent,
        answered: r.answered,
        failed: r.failed,
        byStatus: r.byStatus,
        connectionFailures: r.connectionFailures,
        timeouts: r.timeouts,
        latencyMs: r.latencyMs,
        byBody: r.byBody,
      })),
      switches: applyTimes.length,
      switchesByKind: Object.fromEntries(kinds.map((k) => [k, applyTimes.filter((t) => t.kind === k).length])),
      applyMs: summarize(applyTimes.map((t) => t.ms)),
      applyMsByKind: Object.fromEntries(kinds.map((k) => [k, summarize(applyTimes.filter((t) => t.kind === k).map((t) => t.ms))])),
      runtimeApiRoundTripMs: summarize(roundTrips),
      haproxyVersion: haproxy.version,
      achievedRatePerSecond: round((requests / elapsed) * 1000),
      durationSeconds: Math.round((Date.now() - started) / 1000),
      machine: {
        nproc: os.availableParallelism(),
        loadAverageStart: round(loadAverageStart, 2),
        loadAverageEnd: round(os.loadavg()[0]!, 2),
        node: process.version,
      },
    };
  } finally {
    await door?.stop({ graceMs: 1_000 }).catch((err: Error) => progress(`stopping the front door: ${err.message}`));
    for (const child of releases) child.kill('SIGKILL');
    await fs.rm(work, { recursive: true, force: true });
  }
}

const VERSION_SERVER = path.join(__dirname, '..', '..', 'test', 'fixtures', 'traffic', 'version-server.js');

async function startRelease(version: string, children: ChildProcess[]): Promise<number> {
  const port = await freePort();
  const child = spawn(process.execPath, [VERSION_SERVER], { env: { PATH: process.env.PATH, VERSION: version, PORT: String(port) }, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => chunk.includes('listening') && resolve());
    child.once('exit', (code) => reject(new Error(`release ${version} exited (${code}) before listening`)));
  });
  return port;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function formatResult(r: FrontDoorSwitchResult): string {
  const lines = [
    `front door switches (haproxy ${r.haproxyVersion}, ${r.machine.nproc} CPUs, load ${r.machine.loadAverageStart} → ${r.machine.loadAverageEnd})`,
    `  requests          ${r.requests} at ${r.achievedRatePerSecond}/s over ${r.durationSeconds} s`,
    `  failed            ${r.failed} (${(r.failedRatio * 100).toFixed(3)} %)`,
    ...r.clients.map(
      (c) =>
        `    ${c.keepAlive ? 'keep-alive      ' : 'conn per request'}  sent ${c.sent}, failed ${c.failed}, p50 ${c.latencyMs?.p50} ms, p99 ${c.latencyMs?.p99} ms, answers ${JSON.stringify(c.byBody)}`,
    ),
    `  switches          ${r.switches}: ${Object.entries(r.switchesByKind).map(([k, n]) => `${k} ×${n}`).join(', ')}`,
    `  apply() per switch median ${r.applyMs.medianMs} ms, p95 ${r.applyMs.p95Ms} ms, max ${r.applyMs.maxMs} ms`,
    ...Object.entries(r.applyMsByKind).map(([k, s]) => `    ${k.padEnd(18)} median ${s.medianMs} ms, p95 ${s.p95Ms} ms`),
    `  Runtime API round trip (set server weight) median ${r.runtimeApiRoundTripMs.medianMs} ms, p95 ${r.runtimeApiRoundTripMs.p95Ms} ms (n=${r.runtimeApiRoundTripMs.n})`,
  ];
  return lines.join('\n');
}

if (require.main === module) {
  const { values } = parseArgs({
    options: {
      requests: { type: 'string', default: '12000' },
      rate: { type: 'string', default: '400' },
      'interval-ms': { type: 'string', default: '150' },
      'round-trips': { type: 'string', default: '500' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const int = (name: string, raw: string, min: number, max: number) => {
    const v = Number(raw);
    if (!Number.isInteger(v) || v < min || v > max) {
      process.stderr.write(`--${name} ${JSON.stringify(raw)}: must be a whole number from ${min} to ${max}\n`);
      process.exit(2);
    }
    return v;
  };
  const options: FrontDoorSwitchOptions = {
    requests: int('requests', values.requests!, 100, 10_000_000),
    ratePerSecond: int('rate', values.rate!, 2, 10_000),
    intervalMs: int('interval-ms', values['interval-ms']!, 0, 60_000),
    roundTrips: int('round-trips', values['round-trips']!, 1, 100_000),
  };
  runFrontDoorSwitch(options).then(
    (result) => {
      process.stdout.write(values.json ? `${JSON.stringify(result)}\n` : `${formatResult(result)}\n`);
      process.exit(result.failed === 0 ? 0 : 1);
    },
    (err: Error) => {
      progress(`front door bench failed: ${err.stack ?? err.message}`);
      process.exit(1);
    },
  );
}
