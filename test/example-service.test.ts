import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { prepareExample, readEnvFile, type ExampleWorld } from '../scripts/lib/example';
import { loadMigrationDir } from '../src/migrations/files';

const execFileAsync = promisify(execFile);
const ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
const VERSIONS = ['1.0.0', '1.1.0', '2.0.0'] as const;
type Version = (typeof VERSIONS)[number];

const dbPrefix = `t_hello_${randomBytes(4).toString('hex')}`;
let tempDir = '';
let world: ExampleWorld | undefined;
const releaseDirs = new Map<Version, string>();
const running = new Set<ChildProcess>();
const appliedMigrations = new Set<string>();
// Every /readyz body and every log line, checked at the end for leaked secrets.
const observed: string[] = [];

after(async () => {
  for (const child of running) child.kill('SIGKILL');
  const admin = new Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    for (const env of ['staging', 'production', 'fleet']) {
      await admin.query(`DROP DATABASE IF EXISTS "${dbPrefix}_${env}" WITH (FORCE)`);
    }
  } finally {
    await admin.end();
  }
  if (tempDir) await fs.rm(tempDir, { recursive: true, force: true });
});

async function git(repo: string, args: string[]): Promise<string> {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tempDir, GIT_CONFIG_NOSYSTEM: '1' };
  const { stdout } = await execFileAsync('git', ['-C', repo, ...args], { env });
  return stdout.trim();
}

async function tagCommits(repo: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const v of VERSIONS) out[v] = await git(repo, ['rev-parse', `refs/tags/${v}^{commit}`]);
  return out;
}

async function snapshot(file: string): Promise<{ text: string; mtimeMs: number; mode: number }> {
  const st = await fs.stat(file);
  return { text: await fs.readFile(file, 'utf8'), mtimeMs: st.mtimeMs, mode: st.mode & 0o777 };
}

async function treeDigest(dir: string): Promise<string> {
  const hash = createHash('sha256');
  const walk = async (d: string): Promise<void> => {
    for (const e of (await fs.readdir(d, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(d, e.name);
      hash.update(path.relative(dir, p));
      if (e.isDirectory()) await walk(p);
      else hash.update(await fs.readFile(p));
    }
  };
  await walk(dir);
  return hash.digest('hex');
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

interface RunningService {
  child: ChildProcess;
  base: string;
  output: () => string;
  stop: () => Promise<number | null>;
}

async function startService(version: Version, config: Record<string, string>): Promise<RunningService> {
  const port = await freePort();
  const child = spawn(process.execPath, ['dist/server.js'], {
    cwd: releaseDirs.get(version)!,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PORT: String(port), ...config },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      running.delete(child);
      observed.push(output);
      resolve(code);
    }),
  );
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${version} did not start: ${output}`)), 15000);
    const check = () => {
      if (output.includes('listening on')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${version} exited with ${code} before listening: ${output}`));
    });
  });
  return {
    child,
    base: `http://127.0.0.1:${port}`,
    output: () => output,
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

async function get(base: string, route: string): Promise<{ status: number; text: string; json: () => any }> {
  const res = await fetch(`${base}${route}`);
  const text = await res.text();
  if (route === '/readyz') observed.push(text);
  return { status: res.status, text, json: () => JSON.parse(text) };
}

async function applyMigrations(version: Version, databaseUrl: string): Promise<string[]> {
  const files = await loadMigrationDir(path.join(releaseDirs.get(version)!, 'migrations'));
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  const ran: string[] = [];
  try {
    for (const file of files) {
      if (appliedMigrations.has(file.id)) continue;
      await client.query('BEGIN');
      await client.query(file.sql);
      await client.query('COMMIT');
      appliedMigrations.add(file.id);
      ran.push(file.id);
    }
  } finally {
    await client.end();
  }
  return ran;
}

async function stagingConfig(): Promise<Record<string, string>> {
  return readEnvFile(world!.envFiles.staging);
}

test('prepareExample is idempotent: same tag commits, unchanged config files', async () => {
  tempDir = await fs.mkdtemp(path.join(os.tmpdir(), 'example-service-'));
  const dataDir = path.join(tempDir, 'data');
  const first = await prepareExample({ dataDir, adminUrl: ADMIN_URL, dbPrefix });
  const firstTags = await tagCommits(first.sourceRepo);
  const firstFiles = [await snapshot(first.envFiles.staging), await snapshot(first.envFiles.production)];

  const second = await prepareExample({ dataDir, adminUrl: ADMIN_URL, dbPrefix });
  assert.deepEqual(second, first);
  assert.deepEqual(await tagCommits(second.sourceRepo), firstTags);
  assert.deepEqual([await snapshot(second.envFiles.staging), await snapshot(second.envFiles.production)], firstFiles);
  assert.deepEqual(second.databases, { staging: `${dbPrefix}_staging`, production: `${dbPrefix}_production`, fleet: `${dbPrefix}_fleet` });

  // Tags are a chain in version order.
  assert.equal(await git(first.sourceRepo, ['rev-parse', '1.1.0^']), firstTags['1.0.0']);
  assert.equal(await git(first.sourceRepo, ['rev-parse', '2.0.0^']), firstTags['1.1.0']);

  // A fresh repository elsewhere gets the very same commits: builds of a tag are reproducible anywhere.
  const elsewhere = await prepareExample({ dataDir: path.join(tempDir, 'elsewhere'), adminUrl: ADMIN_URL, dbPrefix });
  assert.deepEqual(await tagCommits(elsewhere.sourceRepo), firstTags);

  // A lost tag is recreated with the very same commit id (fixed dates and identity).
  await git(first.sourceRepo, ['tag', '-d', '1.1.0']);
  await prepareExample({ dataDir, adminUrl: ADMIN_URL, dbPrefix });
  assert.deepEqual(await tagCommits(first.sourceRepo), firstTags);

  for (const file of firstFiles) assert.equal(file.mode, 0o600);
  const staging = await readEnvFile(first.envFiles.staging);
  assert.deepEqual(Object.keys(staging).sort(), ['DATABASE_URL', 'GREETING', 'HELLO_API_TOKEN']);
  assert.equal(staging.DATABASE_URL, `postgres://postgres@127.0.0.1:5432/${dbPrefix}_staging`);
  assert.equal(staging.GREETING, 'Hello from staging');
  assert.match(staging.HELLO_API_TOKEN!, /^[0-9a-f]{32}$/);
  const production = await readEnvFile(first.envFiles.production);
  assert.notEqual(production.HELLO_API_TOKEN, staging.HELLO_API_TOKEN);

  const admin = new Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    const dbs = await admin.query('SELECT datname FROM pg_database WHERE datname LIKE $1 ORDER BY datname', [`${dbPrefix}_%`]);
    assert.deepEqual(dbs.rows.map((r) => r.datname), [`${dbPrefix}_fleet`, `${dbPrefix}_production`, `${dbPrefix}_staging`]);
  } finally {
    await admin.end();
  }
  world = first;
});

test('each tag builds offline and deterministically into dist/', async () => {
  assert.ok(world, 'prepareExample must have run');
  for (const version of VERSIONS) {
    const dir = path.join(tempDir, 'releases', version);
    await fs.mkdir(dir, { recursive: true });
    const tarball = path.join(tempDir, `${version}.tar`);
    await git(world.sourceRepo, ['archive', '--format=tar', '-o', tarball, version]);
    await execFileAsync('tar', ['-xf', tarball, '-C', dir]);
    const commit = await git(world.sourceRepo, ['rev-parse', `${version}^{commit}`]);
    const buildEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', DEPLOY_COMMIT: commit };
    await execFileAsync(process.execPath, ['build.js'], { cwd: dir, env: buildEnv });
    const firstDigest = await treeDigest(path.join(dir, 'dist'));
    await execFileAsync(process.execPath, ['build.js'], { cwd: dir, env: buildEnv });
    assert.equal(await treeDigest(path.join(dir, 'dist')), firstDigest, `${version}: two builds differ`);

    const info = JSON.parse(await fs.readFile(path.join(dir, 'dist', 'build-info.json'), 'utf8'));
    assert.deepEqual(info, { service: 'hello-service', version, commit });
    const pkg = JSON.parse(await fs.readFile(path.join(dir, 'package.json'), 'utf8'));
    assert.equal(pkg.version, version);
    await fs.access(path.join(dir, 'dist', 'node_modules', 'pg', 'package.json'));
    await fs.access(path.join(dir, 'dist', 'node_modules', 'pg-types', 'package.json'));
    releaseDirs.set(version, dir);
  }
});

test('1.0.0 serves its built version and is ready after migration 001', async () => {
  const config = await stagingConfig();
  assert.deepEqual(await applyMigrations('1.0.0', config.DATABASE_URL!), ['001_create_greetings.sql']);
  // The version comes from the build, not the environment.
  const svc = await startService('1.0.0', { ...config, VERSION: '9.9.9', npm_package_version: '9.9.9' });
  const home = await get(svc.base, '/');
  assert.equal(home.status, 200);
  assert.deepEqual(home.json(), { service: 'hello-service', version: '1.0.0', greeting: 'Hello from staging', message: 'hello' });
  assert.equal((await get(svc.base, '/readyz')).status, 200);
  const health = await get(svc.base, '/healthz');
  assert.deepEqual([health.status, health.text], [200, 'ok']);
  assert.equal(await svc.stop(), 0, `1.0.0 did not exit cleanly on SIGTERM: ${svc.output()}`);
  assert.equal(svc.output().split('\n').filter((l) => l.includes('listening on')).length, 1);
});

test('1.1.0 reads the expanded column; 1.0.0 stays ready against the expanded schema', async () => {
  const config = await stagingConfig();
  const old = await startService('1.0.0', config);
  assert.deepEqual(await applyMigrations('1.1.0', config.DATABASE_URL!), ['002_add_greeting_locale.sql']);
  assert.equal((await get(old.base, '/readyz')).status, 200, '1.0.0 must keep working after an expand migration');
  assert.equal((await get(old.base, '/')).json().version, '1.0.0');

  const svc = await startService('1.1.0', config);
  const home = await get(svc.base, '/');
  assert.equal(home.status, 200);
  assert.deepEqual(home.json(), {
    service: 'hello-service',
    version: '1.1.0',
    greeting: 'Hello from staging',
    message: 'hello',
    locale: 'en',
  });
  const ready = await get(svc.base, '/readyz');
  assert.equal(ready.status, 200);
  assert.equal(ready.json().status, 'ready');
  assert.equal(await svc.stop(), 0);
  assert.equal(await old.stop(), 0);
});

test('2.0.0 is alive but never ready: it reads a table no migration creates', async () => {
  const config = await stagingConfig();
  assert.deepEqual(await applyMigrations('2.0.0', config.DATABASE_URL!), [], '2.0.0 ships no new migration');
  const svc = await startService('2.0.0', config);
  const health = await get(svc.base, '/healthz');
  assert.deepEqual([health.status, health.text], [200, 'ok']);
  assert.equal((await get(svc.base, '/')).json().version, '2.0.0');
  for (let probe = 0; probe < 3; probe++) {
    const ready = await get(svc.base, '/readyz');
    assert.equal(ready.status, 503);
    const body = ready.json();
    assert.deepEqual(body.failing, ['database']);
    const check = body.checks.find((c: { name: string }) => c.name === 'database');
    assert.match(check.reason, /greeting_translations/);
    assert.match(check.reason, /42P01/);
  }
  assert.equal(await svc.stop(), 0);
});

test('missing GREETING makes /readyz 503 naming the config check', async () => {
  const { GREETING: _dropped, ...config } = await stagingConfig();
  const svc = await startService('1.1.0', config);
  assert.match(svc.output(), /missing config: GREETING/);
  const ready = await get(svc.base, '/readyz');
  assert.equal(ready.status, 503);
  const body = ready.json();
  assert.deepEqual(body.failing, ['config']);
  assert.match(body.checks[0].reason, /GREETING/);
  assert.equal((await get(svc.base, '/healthz')).status, 200);
  assert.equal(await svc.stop(), 0);
});

test('an unreachable database is reported without the connection string', async () => {
  const config = await stagingConfig();
  const unreachable = `postgres://postgres:${config.HELLO_API_TOKEN}@127.0.0.1:${await freePort()}/nowhere`;
  const svc = await startService('1.1.0', { ...config, DATABASE_URL: unreachable });
  const ready = await get(svc.base, '/readyz');
  assert.equal(ready.status, 503);
  assert.deepEqual(ready.json().failing, ['database']);
  assert.match(ready.text, /cannot connect to the database/);
  assert.ok(!ready.text.includes(unreachable));
  assert.equal(await svc.stop(), 0);
});

test('the service refuses to start without PORT and says so', async () => {
  const config = await stagingConfig();
  const child = execFileAsync(process.execPath, ['dist/server.js'], {
    cwd: releaseDirs.get('1.1.0')!,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...config },
  });
  await assert.rejects(child, (err: { code?: number; stderr?: string }) => {
    assert.equal(err.code, 1);
    assert.match(err.stderr ?? '', /PORT is required/);
    return true;
  });
});

test('no readiness body or log line contains a runtime config value', async () => {
  const config = await stagingConfig();
  assert.ok(observed.length >= 8, 'the earlier tests must have produced bodies and logs');
  for (const text of observed) {
    assert.ok(!text.includes(config.DATABASE_URL!), 'DATABASE_URL leaked');
    assert.ok(!text.includes(config.HELLO_API_TOKEN!), 'HELLO_API_TOKEN leaked');
  }
});

test('readEnvFile parses KEY=VALUE with comments and refuses malformed lines by number', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'env-file-'));
  try {
    const good = path.join(dir, 'good.env');
    await fs.writeFile(good, '# comment\n\nA_KEY=plain value\r\nURL=postgres://u@h:1/db?x=1\nEMPTY=\n  # indented comment\n');
    assert.deepEqual(await readEnvFile(good), { A_KEY: 'plain value', URL: 'postgres://u@h:1/db?x=1', EMPTY: '' });

    const bad = path.join(dir, 'bad.env');
    await fs.writeFile(bad, 'OK=1\nTOKEN s3cr3t-value\nlower=x\nOK=2\nQUOTED="s3cr3t-quoted"\n');
    await assert.rejects(readEnvFile(bad), (err: Error) => {
      assert.match(err.message, /bad\.env:2: expected KEY=VALUE/);
      assert.match(err.message, /bad\.env:3: the key must be UPPER_SNAKE_CASE/);
      assert.match(err.message, /bad\.env:4: OK is set twice/);
      assert.match(err.message, /bad\.env:5: the value of QUOTED starts with a quote/);
      assert.ok(!err.message.includes('s3cr3t'), 'values must not be echoed');
      return true;
    });

    await assert.rejects(readEnvFile(path.join(dir, 'missing.env')), /missing\.env: cannot read it \(ENOENT\)/);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
