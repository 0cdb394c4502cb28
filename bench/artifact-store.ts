/**
 * Throughput of the shared artifact store, in one Node process, for an artifact of ~10 MB:
 *
 *   node --import tsx bench/artifact-store.ts [--json] [--mb 10] [--rounds 5]
 *
 * Through the PostgreSQL store (the default, in a database of its own on BENCH_PG_ADMIN_URL's server) and a
 * directory store on the local disk for comparison: `put` streams a file in (a new blob each round, so every
 * round stores it), `get` writes it to a file through a temporary name once verified (what a worker's cache
 * does), `open` only reads the verified stream (what an HTTP server of artifacts would do). Reported: the
 * median MB/s over the rounds (MB = 10^6 bytes) and the peak RSS of the process: compare `--mb 10` with
 * `--mb 100` to see that no blob is held in memory whole.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FilesystemArtifactStore, PostgresArtifactStore, type ArtifactStore } from '../src/artifacts';
import { dropDatabase, ensureDatabase, LOCAL_POSTGRES_ADMIN_URL } from '../scripts/lib/postgres';
import { median, round } from './lib/stats';

const ADMIN_URL = process.env.BENCH_PG_ADMIN_URL ?? LOCAL_POSTGRES_ADMIN_URL;

function arg(name: string, fallback: number): number {
  const at = process.argv.indexOf(name);
  const value = at > 0 ? Number(process.argv[at + 1]) : fallback;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number`);
  return value;
}

interface Figures {
  putMBps: number;
  getMBps: number;
  openMBps: number;
}

/** Random bytes (a .tar.gz does not compress either), written 1 MiB at a time so the bench holds no artifact whole. */
async function writeRandomFile(file: string, sizeBytes: number): Promise<void> {
  const handle = await fs.open(file, 'w');
  try {
    for (let left = sizeBytes; left > 0; left -= 1 << 20) await handle.write(randomBytes(Math.min(left, 1 << 20)));
  } finally {
    await handle.close();
  }
}

async function measure(store: ArtifactStore, dir: string, sizeBytes: number, rounds: number): Promise<Figures> {
  const put: number[] = [];
  const get: number[] = [];
  const open: number[] = [];
  const mbps = (ms: number) => sizeBytes / 1e6 / (ms / 1000);
  for (let i = 0; i < rounds; i++) {
    const source = path.join(dir, `source-${i}`);
    await writeRandomFile(source, sizeBytes);
    let t = performance.now();
    const { sha256, created } = await store.put(createReadStream(source));
    put.push(mbps(performance.now() - t));
    if (!created) throw new Error('the benchmark blob was already stored');

    const file = path.join(dir, `got-${i}`);
    t = performance.now();
    if (!(await store.get(sha256, file))) throw new Error('the stored blob was not found');
    get.push(mbps(performance.now() - t));

    t = performance.now();
    const opened = await store.open(sha256);
    let read = 0;
    for await (const chunk of opened!.stream) read += (chunk as Buffer).length;
    open.push(mbps(performance.now() - t));
    if (read !== sizeBytes) throw new Error(`read ${read} bytes, stored ${sizeBytes}`);
    await fs.rm(source);
    await fs.rm(file, { force: true });
  }
  return { putMBps: round(median(put)), getMBps: round(median(get)), openMBps: round(median(open)) };
}

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const sizeBytes = Math.round(arg('--mb', 10) * 1e6);
  const rounds = arg('--rounds', 5);
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bench-artifacts-'));
  const database = `bench_artifacts_${randomBytes(4).toString('hex')}`;
  await ensureDatabase(ADMIN_URL, database);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${database}`;
  let pg: PostgresArtifactStore | undefined;
  try {
    pg = await PostgresArtifactStore.open(url.toString());
    const postgres = await measure(pg, dir, sizeBytes, rounds);
    const filesystem = await measure(new FilesystemArtifactStore(path.join(dir, 'store')), dir, sizeBytes, rounds);
    const peakRssMb = round(process.resourceUsage().maxRSS / 1024);
    const result = { sizeBytes, rounds, postgres, filesystem, peakRssMb, cpus: os.cpus().length, node: process.version };
    if (json) {
      console.log(JSON.stringify(result));
      return;
    }
    console.log(`artifact store throughput, ${round(sizeBytes / 1e6)} MB artifact, median of ${rounds} rounds (MB/s, MB = 10^6 bytes)`);
    console.log(`  postgres   put ${postgres.putMBps}   get (to a file, verified) ${postgres.getMBps}   open (verified stream) ${postgres.openMBps}`);
    console.log(`  filesystem put ${filesystem.putMBps}   get (to a file, verified) ${filesystem.getMBps}   open (verified stream) ${filesystem.openMBps}`);
    console.log(`  peak RSS of the process: ${peakRssMb} MB (${os.cpus().length} CPUs, Node ${process.version})`);
  } finally {
    await pg?.close();
    await dropDatabase(ADMIN_URL, database);
    await fs.rm(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
