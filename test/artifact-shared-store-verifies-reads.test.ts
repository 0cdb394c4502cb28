import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { text } from 'node:stream/consumers';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { FilesystemArtifactStore, PostgresArtifactStore, type ArtifactStore } from '../src/artifacts';
import { CHUNK_BYTES } from '../src/artifacts/shared';
import type { VersionRecord } from '../src/artifacts/manifest';
import { FailureType } from '../src/errors';
import { createTestDatabase, type TestDatabase } from './helpers/pg';

/**
 * The shared artifact store on a real PostgreSQL (and as a shared directory): blobs go in as streams and
 * come out only when their bytes hash to the name they were asked for; a put is idempotent on the sha256;
 * a version is recorded once.
 */

let db: TestDatabase;
let pg: PostgresArtifactStore;
let scratch: string;
let fsStore: FilesystemArtifactStore;

before(async () => {
  db = await createTestDatabase('artifacts');
  pg = await PostgresArtifactStore.open(db.url);
  scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'artifact-shared-'));
  fsStore = new FilesystemArtifactStore(path.join(scratch, 'shared'));
});
after(async () => {
  await pg?.close();
  await db?.drop();
  await fs.rm(scratch, { recursive: true, force: true });
});

const sha256Of = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** `bytes` in pieces of uneven sizes, as a network or file stream delivers them. */
async function* pieces(bytes: Buffer): AsyncGenerator<Buffer> {
  let at = 0;
  let n = 1;
  while (at < bytes.length) {
    const size = Math.min(bytes.length - at, 70_001 * n);
    yield bytes.subarray(at, at + size);
    at += size;
    n = (n % 7) + 1;
  }
}

async function* neverRead(): AsyncGenerator<Buffer> {
  throw new Error('the source of a blob already stored was read');
}

function refusedWith(...patterns: RegExp[]) {
  return (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(err)}`);
    assert.equal(err.type, FailureType.ArtifactConflict);
    assert.equal(err.nonRetryable, true);
    for (const p of patterns) assert.match(err.message, p);
    return true;
  };
}

async function exists(file: string): Promise<boolean> {
  return fs.stat(file).then(() => true, () => false);
}

test('PostgreSQL: a streamed put is stored in 1 MiB chunks and read back byte for byte, as a stream and as a read-only file', async () => {
  const bytes = randomBytes(2 * CHUNK_BYTES + 12_345);
  const sha256 = sha256Of(bytes);
  assert.equal(await pg.has(sha256), false);
  const put = await pg.put(pieces(bytes));
  assert.deepEqual(put, { sha256, sizeBytes: bytes.length, created: true });
  assert.equal(await pg.has(sha256), true);

  const rows = await db.query<{ seq: number; n: number }>(
    `SELECT c.seq, length(c.data) AS n FROM deploy_artifact_chunks c JOIN deploy_artifact_blobs b ON b.id = c.blob_id WHERE b.sha256 = $1 ORDER BY c.seq`,
    [sha256],
  );
  assert.deepEqual(rows.map((r) => r.n), [CHUNK_BYTES, CHUNK_BYTES, 12_345]);

  const opened = await pg.open(sha256);
  assert.ok(opened);
  assert.equal(opened.sizeBytes, bytes.length);
  const chunks: Buffer[] = [];
  for await (const c of opened.stream) chunks.push(c as Buffer);
  assert.ok(Buffer.concat(chunks).equals(bytes));

  const file = path.join(scratch, 'pg-get', 'blob.tar.gz');
  await fs.mkdir(path.dirname(file));
  assert.equal(await pg.get(sha256, file), true);
  assert.ok((await fs.readFile(file)).equals(bytes));
  assert.equal((await fs.stat(file)).mode & 0o777, 0o444);
  assert.deepEqual(await fs.readdir(path.dirname(file)), ['blob.tar.gz'], 'no temporary file is left');

  assert.equal(await pg.open('0'.repeat(64)), null);
  assert.equal(await pg.get('0'.repeat(64), path.join(scratch, 'pg-get', 'absent')), false);
});

test('PostgreSQL: puts are idempotent on the sha256, also when concurrent; a put whose bytes are not the expected blob stores nothing', async () => {
  const bytes = randomBytes(CHUNK_BYTES + 1);
  const sha256 = sha256Of(bytes);
  const results = await Promise.all([pg.put(pieces(bytes)), pg.put(pieces(bytes)), pg.put(pieces(bytes))]);
  assert.equal(results.filter((r) => r.created).length, 1, JSON.stringify(results));
  assert.ok(results.every((r) => r.sha256 === sha256 && r.sizeBytes === bytes.length));
  assert.deepEqual(await pg.put(neverRead(), { expectedSha256: sha256 }), { sha256, sizeBytes: bytes.length, created: false });

  const blobs = await db.query<{ n: string }>('SELECT count(*) AS n FROM deploy_artifact_blobs WHERE sha256 = $1', [sha256]);
  assert.equal(Number(blobs[0]!.n), 1);
  const chunksBefore = Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM deploy_artifact_chunks'))[0]!.n);

  const other = randomBytes(1000);
  const claimed = 'a'.repeat(64);
  await assert.rejects(pg.put(pieces(other), { expectedSha256: claimed }), refusedWith(new RegExp(claimed), new RegExp(sha256Of(other)), /nothing was stored/));
  assert.equal(await pg.has(claimed), false);
  assert.equal(await pg.has(sha256Of(other)), false);
  const chunksAfter = Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM deploy_artifact_chunks'))[0]!.n);
  assert.equal(chunksAfter, chunksBefore, 'the refused put left no chunks behind');
});

test('PostgreSQL: a corrupted or incomplete blob is refused on read, naming both hashes, and no file is written', async () => {
  const bytes = randomBytes(CHUNK_BYTES + 5000);
  const sha256 = sha256Of(bytes);
  await pg.put(pieces(bytes));
  // One byte of the second chunk flipped, as a damaged disk or a hand edit would.
  await db.query(
    `UPDATE deploy_artifact_chunks SET data = set_byte(data, 17, (get_byte(data, 17) + 1) % 256)
      WHERE seq = 1 AND blob_id = (SELECT id FROM deploy_artifact_blobs WHERE sha256 = $1)`,
    [sha256],
  );
  const damaged = Buffer.from(bytes);
  damaged[CHUNK_BYTES + 17] = (damaged[CHUNK_BYTES + 17]! + 1) % 256;
  const file = path.join(scratch, 'pg-corrupt', 'blob.tar.gz');
  await fs.mkdir(path.dirname(file));
  await assert.rejects(
    pg.get(sha256, file),
    refusedWith(new RegExp(`artifact ${sha256} in the artifact store \\(PostgreSQL database ${db.name}`), new RegExp(`hash to ${sha256Of(damaged)}`), /is corrupt/, /DELETE FROM deploy_artifact_blobs/),
  );
  assert.deepEqual(await fs.readdir(path.dirname(file)), [], 'neither the file nor a temporary one is left');
  const opened = await pg.open(sha256);
  await assert.rejects(text(opened!.stream), refusedWith(new RegExp(sha256Of(damaged))));

  await db.query(`DELETE FROM deploy_artifact_chunks WHERE seq = 0 AND blob_id = (SELECT id FROM deploy_artifact_blobs WHERE sha256 = $1)`, [sha256]);
  await assert.rejects(pg.get(sha256, file), refusedWith(/lack chunk 0 of 2/, new RegExp(sha256)));
  assert.equal(await exists(file), false);
});

test('a shared directory: the same contract, and a blob changed on disk is refused on read naming both hashes', async () => {
  const bytes = randomBytes(300_000);
  const sha256 = sha256Of(bytes);
  assert.deepEqual(await fsStore.put(pieces(bytes)), { sha256, sizeBytes: bytes.length, created: true });
  assert.deepEqual(await fsStore.put(neverRead(), { expectedSha256: sha256 }), { sha256, sizeBytes: bytes.length, created: false });
  const stored = path.join(scratch, 'shared', 'sha256', `${sha256}.tar.gz`);
  assert.equal((await fs.stat(stored)).mode & 0o777, 0o444);
  const file = path.join(scratch, 'fs-get.tar.gz');
  assert.equal(await fsStore.get(sha256, file), true);
  assert.ok((await fs.readFile(file)).equals(bytes));

  await fs.chmod(stored, 0o644);
  const damaged = Buffer.from(bytes);
  damaged[99] = (damaged[99]! + 1) % 256;
  await fs.writeFile(stored, damaged);
  const again = path.join(scratch, 'fs-get-again.tar.gz');
  await assert.rejects(fsStore.get(sha256, again), refusedWith(new RegExp(`artifact ${sha256} in the artifact directory`), new RegExp(`hash to ${sha256Of(damaged)}`), new RegExp(`Remove ${stored}`)));
  assert.equal(await exists(again), false);
});

function record(service: string, version: string, sha256: string): VersionRecord {
  return {
    manifest: { service, version, commit: 'c'.repeat(40), buildCommand: ['node', 'build.js'], outputs: ['dist'], requiredConfig: [], migrations: [], files: 3 },
    repository: '/srv/repos/hello-service/.git',
    sha256,
    sizeBytes: 10,
  };
}

for (const [name, store] of [['PostgreSQL', () => pg], ['a shared directory', () => fsStore]] as Array<[string, () => ArtifactStore]>) {
  test(`${name}: a version is recorded once; a second record of it gets the first back`, async () => {
    const first = record('hello-service', '3.0.0', '1'.repeat(64));
    assert.equal(await store().findVersion('hello-service', '3.0.0'), null);
    assert.deepEqual(await store().recordVersion(first), { record: first, created: true });
    const second = await store().recordVersion(record('hello-service', '3.0.0', '2'.repeat(64)));
    assert.equal(second.created, false);
    assert.equal(second.record.sha256, '1'.repeat(64));
    assert.deepEqual(await store().findVersion('hello-service', '3.0.0'), first);
  });
}
