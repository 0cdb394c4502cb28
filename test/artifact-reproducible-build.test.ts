import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tar from 'tar';
import { buildArtifact, findArtifact, unpackArtifact, type BuildOptions } from '../src/artifacts';
import { migrationChecksum } from '../src/migrations/files';
import { createServiceRepo, type GitRepo } from './helpers/git-repo';

let repo: GitRepo;
let scratch: string;

before(async () => {
  repo = await createServiceRepo();
  scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'artifact-repro-'));
});
after(async () => {
  await repo.remove();
  await fs.rm(scratch, { recursive: true, force: true });
});

function options(store: string, version: string, extra: Partial<BuildOptions> = {}): BuildOptions {
  return {
    service: 'hello-service',
    version,
    repository: repo.dir,
    buildCommand: ['node', 'build.js'],
    outputs: ['dist'],
    migrationsDir: 'migrations',
    requiredConfig: ['GREETING'],
    storeDir: path.join(scratch, store),
    workDir: path.join(scratch, `${store}-work`),
    timeoutMs: 60_000,
    ...extra,
  };
}

async function touchTree(dir: string, when: Date): Promise<void> {
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    if (entry.name === '.git') continue;
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) await touchTree(p, when);
    await fs.utimes(p, when, when);
  }
}

test('the same version built into two clean stores has the same sha256, even after files are touched', async () => {
  const first = await buildArtifact(options('store-a', '1.0.0'));
  const second = await buildArtifact(options('store-b', '1.0.0'));
  assert.equal(second.sha256, first.sha256);
  assert.equal(first.reused, false);
  assert.equal(second.reused, false);

  await touchTree(repo.dir, new Date('2031-02-03T04:05:06Z'));
  const oldUmask = process.umask(0o077);
  let third;
  try {
    third = await buildArtifact(options('store-c', '1.0.0'));
  } finally {
    process.umask(oldUmask);
  }
  assert.equal(third.sha256, first.sha256);
  assert.deepEqual(await fs.readFile(third.path), await fs.readFile(first.path));

  const other = await buildArtifact(options('store-a', '1.1.0'));
  assert.notEqual(other.sha256, first.sha256, 'a different version must give a different bundle');
});

test('a repeated build of a stored version is reused and leaves the store unchanged', async () => {
  const first = await buildArtifact(options('store-reuse', '1.1.0'));
  const recordFile = path.join(scratch, 'store-reuse', 'hello-service', '1.1.0.json');
  const recordBefore = await fs.readFile(recordFile, 'utf8');
  const again = await buildArtifact(options('store-reuse', '1.1.0'));
  assert.equal(again.reused, true);
  assert.equal(again.sha256, first.sha256);
  assert.equal(again.path, first.path);
  assert.equal(await fs.readFile(recordFile, 'utf8'), recordBefore);
  assert.deepEqual(await fs.readdir(path.join(scratch, 'store-reuse', 'sha256')), [`${first.sha256}.tar.gz`]);
  assert.deepEqual(await fs.readdir(path.join(scratch, 'store-reuse-work')), [], 'scratch checkouts are removed');

  const found = await findArtifact(path.join(scratch, 'store-reuse'), 'hello-service', '1.1.0');
  assert.deepEqual(found, { manifest: first.manifest, repository: await fs.realpath(path.join(repo.dir, '.git')), sha256: first.sha256, path: first.path, sizeBytes: first.sizeBytes });
  assert.equal(await findArtifact(path.join(scratch, 'store-reuse'), 'hello-service', '9.9.9'), null);
});

test('the manifest names the commit, the outputs, the config names and every migration with its checksum', async () => {
  const built = await buildArtifact(options('store-manifest', '1.1.0'));
  const m = built.manifest;
  assert.equal(m.commit, repo.commits['1.1.0']);
  assert.match(m.commit, /^[0-9a-f]{40}$/);
  assert.deepEqual(m.buildCommand, ['node', 'build.js']);
  assert.deepEqual(m.outputs, ['dist']);
  assert.deepEqual(m.requiredConfig, ['GREETING']);
  const sql1 = '-- phase: expand\nCREATE TABLE greetings (id serial PRIMARY KEY, text text NOT NULL);\n';
  const sql2 = '-- phase: expand\nALTER TABLE greetings ADD COLUMN locale text;\n';
  assert.deepEqual(m.migrations, [
    { id: '001_create_greetings.sql', phase: 'expand', checksum: migrationChecksum(sql1) },
    { id: '002_add_greeting_locale.sql', phase: 'expand', checksum: migrationChecksum(sql2) },
  ]);

  const listed: string[] = [];
  await tar.t({ file: built.path, onReadEntry: (e) => void listed.push(e.path) });
  assert.equal(m.files, listed.length);
});

test('bundle entries are sorted, owned by 0:0 without names, stamped with the commit time and normalised modes', async () => {
  const built = await buildArtifact(options('store-headers', '1.0.0'));
  const commitTime = Number((await repo.git('show', '-s', '--format=%ct', repo.commits['1.0.0']!)).trim());
  const entries: Array<{ path: string; type: string; mode: number; uid: number; gid: number; uname?: string; gname?: string; mtime: number }> = [];
  await tar.t({
    file: built.path,
    onReadEntry: (e) =>
      void entries.push({
        path: e.path,
        type: e.type,
        mode: e.mode ?? -1,
        uid: e.uid ?? -1,
        gid: e.gid ?? -1,
        uname: e.uname,
        gname: e.gname,
        mtime: Math.floor((e.mtime?.getTime() ?? -1) / 1000),
      }),
  });
  const paths = entries.map((e) => e.path.replace(/\/$/, ''));
  assert.deepEqual(paths, [...paths].sort());
  assert.ok(paths.includes('deploy-manifest.json'));
  assert.ok(paths.includes('migrations/001_create_greetings.sql'));
  for (const e of entries) {
    assert.equal(e.uid, 0, e.path);
    assert.equal(e.gid, 0, e.path);
    assert.ok(!e.uname && !e.gname, `${e.path} carries no owner names`);
    assert.equal(e.mtime, commitTime, e.path);
    assert.ok(['File', 'Directory'].includes(e.type), `${e.path} is ${e.type}`);
  }
  const modeOf = (p: string) => entries.find((e) => e.path.replace(/\/$/, '') === p)!.mode & 0o7777;
  assert.equal(modeOf('dist'), 0o755);
  assert.equal(modeOf('dist/start.sh'), 0o755);
  assert.equal(modeOf('dist/lib/server.js'), 0o644);

  // gzip header: no file name flag, zero mtime.
  const head = (await fs.readFile(built.path)).subarray(0, 10);
  assert.equal(head[3]! & 0x08, 0, 'no FNAME in the gzip header');
  assert.equal(head.readUInt32LE(4), 0, 'gzip mtime is zero');
});

test('an unpacked bundle holds the build outputs, the migrations and the manifest', async () => {
  const built = await buildArtifact(options('store-unpack', '1.1.0'));
  const dest = path.join(scratch, 'unpacked');
  await unpackArtifact(built.path, dest);
  assert.equal(await fs.readFile(path.join(dest, 'dist/lib/server.js'), 'utf8'), "console.log('hello 1.1.0');\n");
  assert.equal((await fs.stat(path.join(dest, 'dist/start.sh'))).mode & 0o111, 0o111);
  assert.deepEqual((await fs.readdir(path.join(dest, 'migrations'))).sort(), [
    '001_create_greetings.sql',
    '002_add_greeting_locale.sql',
  ]);
  const manifest = JSON.parse(await fs.readFile(path.join(dest, 'deploy-manifest.json'), 'utf8'));
  assert.deepEqual(manifest, built.manifest);
  assert.equal('sha256' in manifest, false);
  assert.deepEqual((await fs.readdir(dest)).sort(), ['deploy-manifest.json', 'dist', 'migrations']);
  await assert.rejects(fs.access(path.join(dest, 'build.js')), 'sources not named in outputs stay out of the bundle');
});
