import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildArtifact, reclaimStaleBuildDirs, type BuildOptions } from '../src/artifacts';
import { createGitRepo, type GitRepo } from './helpers/git-repo';
import { pidsWithMarker, waitUntilNoProcessWith } from './helpers/processes';

/**
 * A build runs a repository's code. It must not reach the worker's secrets (environment, /proc of the
 * worker, the data directory's config sources and keys) nor change the artifact store.
 */

let scratch: string;
let dataDir: string;
const secretEnv = `env-${randomBytes(12).toString('hex')}`;
const secretConfig = `config-${randomBytes(12).toString('hex')}`;
const secretKey = `key-${randomBytes(12).toString('hex')}`;
const repos: GitRepo[] = [];

before(async () => {
  scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'build-sandbox-'));
  dataDir = path.join(scratch, 'data');
  await fs.mkdir(path.join(dataDir, 'config', 'hello-service'), { recursive: true });
  await fs.mkdir(path.join(dataDir, 'keys'), { recursive: true });
  await fs.mkdir(path.join(dataDir, 'artifacts', 'other-service'), { recursive: true });
  await fs.writeFile(path.join(dataDir, 'config', 'hello-service', 'production.env'), `DATABASE_PASSWORD=${secretConfig}\n`, { mode: 0o600 });
  await fs.writeFile(path.join(dataDir, 'keys', 'operator'), `${secretKey}\n`, { mode: 0o600 });
  await fs.writeFile(path.join(dataDir, 'artifacts', 'other-service', '1.0.0.json'), 'the real record\n', { mode: 0o644 });
});
after(async () => {
  for (const r of repos) await r.remove();
  await fs.rm(scratch, { recursive: true, force: true });
});

async function repoWith(buildJs: string, extra: Record<string, string> = {}): Promise<GitRepo> {
  const repo = await createGitRepo([{ tag: '1.0.0', files: { 'build.js': buildJs, ...extra } }], 'sandbox-repo-');
  repos.push(repo);
  return repo;
}

function options(repo: GitRepo, lines: string[], extra: Partial<BuildOptions> = {}): BuildOptions {
  return {
    service: 'hello-service',
    version: '1.0.0',
    repository: repo.dir,
    buildCommand: ['node', 'build.js'],
    outputs: ['dist'],
    migrationsDir: 'migrations',
    requiredConfig: [],
    storeDir: path.join(dataDir, 'artifacts'),
    workDir: path.join(dataDir, 'work'),
    timeoutMs: 120_000,
    onProgress: (p) => p.phase === 'build' && lines.push(p.message),
    ...extra,
  };
}

/** Tries every route a build could take to the worker's secrets and prints whatever it finds. */
const PROBE_BUILD = `
const fs = require('node:fs');
const targets = JSON.parse(fs.readFileSync('probe-targets.json', 'utf8'));
const read = (f) => { try { return fs.readFileSync(f, 'latin1').replace(/\\0/g, ' '); } catch (e) { return 'denied ' + e.code; } };
const pids = fs.readdirSync('/proc').filter((e) => /^\\d+$/.test(e));
console.log('probe: uid ' + process.getuid() + ', visible pids ' + pids.join(','));
for (const p of [...pids, 'self', String(process.ppid)]) {
  console.log('probe: /proc/' + p + '/environ: ' + read('/proc/' + p + '/environ'));
  console.log('probe: /proc/' + p + '/cmdline: ' + read('/proc/' + p + '/cmdline'));
}
console.log('probe: env ' + JSON.stringify(process.env));
for (const f of targets.read) console.log('probe: read ' + f + ': ' + read(f));
for (const d of targets.list) { try { console.log('probe: list ' + d + ': ' + fs.readdirSync(d).join(',')); } catch (e) { console.log('probe: list ' + d + ': ' + e.code); } }
for (const f of targets.write) { try { fs.writeFileSync(f, 'tampered\\n'); console.log('probe: WROTE ' + f); } catch (e) { console.log('probe: write ' + f + ': ' + e.code); } }
fs.mkdirSync('dist', { recursive: true });
fs.writeFileSync('dist/ok.txt', 'ok\\n');
console.log('probes done');
`;

test("a build finds none of the worker's secrets and cannot write the artifact store", async () => {
  process.env.DEPLOY_TEST_SECRET_TOKEN = secretEnv;
  try {
    const record = path.join(dataDir, 'artifacts', 'other-service', '1.0.0.json');
    const targets = {
      read: [path.join(dataDir, 'config', 'hello-service', 'production.env'), path.join(dataDir, 'keys', 'operator'), record],
      list: [dataDir, path.join(dataDir, 'config'), path.join(dataDir, 'keys'), path.join(dataDir, 'artifacts'), '/root', '/work'],
      write: [record, path.join(dataDir, 'artifacts', 'planted.json'), path.join(dataDir, 'config', 'hello-service', 'production.env')],
    };
    const repo = await repoWith(PROBE_BUILD, { 'probe-targets.json': JSON.stringify(targets) });
    const lines: string[] = [];
    const built = await buildArtifact(options(repo, lines));
    const output = lines.join('\n');
    assert.match(output, /probes done/, 'the probe build ran to the end');
    assert.match(output, /probe: uid 65534,/, 'the build runs as the unprivileged user');
    for (const [what, secret] of [['environment', secretEnv], ['config source', secretConfig], ['key', secretKey]]) {
      assert.equal(output.includes(secret!), false, `the worker's ${what} secret reached the build:\n${output}`);
    }
    assert.doesNotMatch(output, /WROTE/, `the build wrote outside its checkout:\n${output}`);
    assert.doesNotMatch(output, /the real record/, 'the build read the artifact store');
    assert.equal(await fs.readFile(record, 'utf8'), 'the real record\n');
    await assert.rejects(fs.stat(path.join(dataDir, 'artifacts', 'planted.json')), /ENOENT/);
    assert.equal(await fs.readFile(path.join(dataDir, 'config', 'hello-service', 'production.env'), 'utf8'), `DATABASE_PASSWORD=${secretConfig}\n`);
    const visible = /visible pids ([\d,]+)/.exec(output)![1]!.split(',');
    assert.ok(visible.length <= 3, `the build sees only its own processes, saw ${visible.join(',')}`);
    assert.equal(built.reused, false);
  } finally {
    delete process.env.DEPLOY_TEST_SECRET_TOKEN;
  }
});

test('a grandchild a build leaves behind is killed when the build ends', async () => {
  const marker = `left-behind-${process.pid}-${Date.now()}`;
  const repo = await repoWith(`
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', ${JSON.stringify(marker)}], { detached: true, stdio: 'ignore' });
child.unref();
child.once('spawn', () => {
  fs.mkdirSync('dist', { recursive: true });
  fs.writeFileSync('dist/ok.txt', 'ok\\n');
  console.log('started grandchild');
  process.exit(0);
});
`);
  const lines: string[] = [];
  await buildArtifact(options(repo, lines, { storeDir: path.join(scratch, 'store-grandchild'), workDir: path.join(scratch, 'work-grandchild') }));
  assert.ok(lines.includes('started grandchild'), lines.join('\n'));
  const left = await waitUntilNoProcessWith(marker);
  for (const pid of left) process.kill(pid, 'SIGKILL');
  assert.deepEqual(left, [], 'the detached grandchild outlived its build');
});

test("a build killed with its worker leaves its checkout; the next start reclaims it and keeps live ones", async () => {
  const marker = `killed-worker-build-${process.pid}-${Date.now()}`;
  const repo = await repoWith(`console.log('building'); setInterval(() => {}, 1000); // ${marker}\n`);
  const workDir = path.join(scratch, 'work-killed');
  const script = path.join(scratch, 'worker.ts');
  await fs.writeFile(
    script,
    `import { buildArtifact } from ${JSON.stringify(path.resolve('src/artifacts'))};
buildArtifact({ service: 'hello-service', version: '1.0.0', repository: ${JSON.stringify(repo.dir)}, buildCommand: ['node', 'build.js', ${JSON.stringify(marker)}],
  outputs: ['dist'], migrationsDir: 'migrations', requiredConfig: [], storeDir: ${JSON.stringify(path.join(scratch, 'store-killed'))}, workDir: ${JSON.stringify(workDir)},
  timeoutMs: 600_000, onProgress: (p) => console.log(p.message) });
`,
  );
  const worker = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let seen = '';
  worker.stdout.on('data', (c: Buffer) => (seen += c.toString()));
  const deadline = Date.now() + 60_000;
  while (!/^building$/m.test(seen) && Date.now() < deadline && worker.exitCode === null) await sleep(100);
  assert.match(seen, /^building$/m, `the build started:\n${seen}`);
  assert.ok((await pidsWithMarker(marker)).length > 0, 'the build process is running');
  worker.kill('SIGKILL');
  await new Promise((resolve) => worker.once('exit', resolve));

  const left = await waitUntilNoProcessWith(marker);
  for (const pid of left) process.kill(pid, 'SIGKILL');
  assert.deepEqual(left, [], 'the build died with its worker');
  const stale = await fs.readdir(workDir);
  assert.equal(stale.length, 1, 'the killed build left its checkout');

  // A build of this (live) worker, running while the next start reclaims.
  const lines: string[] = [];
  let removed: string[] = [];
  const liveRepo = await repoWith(`
const fs = require('node:fs');
console.log('live build running');
const wait = Date.now() + 120000;
while (!fs.existsSync('/tmp/go') && Date.now() < wait) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
fs.mkdirSync('dist', { recursive: true }); fs.writeFileSync('dist/ok.txt', 'ok\\n');
`);
  let liveScratch = '';
  const live = buildArtifact(
    options(liveRepo, lines, {
      storeDir: path.join(scratch, 'store-live'),
      workDir,
      onProgress: (p) => {
        if (p.phase === 'checkout') liveScratch = path.dirname(p.message.replace(/^checking out \S+ into /, ''));
        if (p.message === 'live build running') lines.push(p.message);
      },
    }),
  );
  while (!lines.includes('live build running') && Date.now() < deadline + 60_000) await sleep(100);
  removed = await reclaimStaleBuildDirs(workDir);
  assert.deepEqual(removed, stale, 'the stale checkout is reclaimed');
  assert.ok(liveScratch && (await fs.stat(liveScratch)).isDirectory(), 'the live build keeps its checkout');
  await fs.writeFile(path.join(liveScratch, 'tmp', 'go'), '');
  await live;
  assert.deepEqual(await fs.readdir(workDir), []);
});
