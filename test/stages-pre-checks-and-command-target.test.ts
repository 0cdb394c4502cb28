import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { startDeployWorld, REPO_ROOT, type DeployWorld } from './helpers/deploy-world';
import { freePort } from '../scripts/lib/dev-server';

let world: DeployWorld;
let platform: http.Server;
let platformPort: number;
const FAKE_PLATFORM = path.join(REPO_ROOT, 'test/fixtures/targets/fake-platform.js');
const commandWorkDir = () => path.join(world.dataDir, 'work', 'command', 'hello-service', 'edge');

before(async () => {
  platformPort = await freePort();
  world = await startDeployWorld({
    specOverrides: (spec) => {
      // An environment behind operator commands (what kubectl/ssh would be), readiness served by a stand-in
      // platform endpoint that is ready unless the live release is 2.0.0.
      spec.environments.edge = {
        config: { envFile: spec.environments.staging.config.envFile },
        database: { urlFromConfig: 'DATABASE_URL' },
        target: {
          type: 'command',
          deploy: ['node', FAKE_PLATFORM, 'deploy', '{version}', '{sha256}'],
          current: ['node', FAKE_PLATFORM, 'current'],
          rollback: ['node', FAKE_PLATFORM, 'rollback', '{version}', '{sha256}', '{previousVersion}'],
          timeoutMs: 30000,
        },
        health: { url: `http://127.0.0.1:${platformPort}/readyz` },
      };
      // Staging gains a dependency that is down, to prove every failing pre-check is reported.
      spec.environments.production.dependencies = [{ name: 'payments-api', tcp: '127.0.0.1:9' }];
    },
  });
  platform = http.createServer((_req, res) => {
    // A missing live.txt reads as '', so this chain cannot reject: nothing needs to wait for it.
    void fs
      .readFile(path.join(commandWorkDir(), 'live.txt'), 'utf8')
      .catch(() => '')
      .then((live) => res.writeHead(live.startsWith('2.0.0 ') ? 503 : 200).end(live));
  });
  await new Promise<void>((r) => platform.listen(platformPort, '127.0.0.1', r));
  await world.startWorker();
});
after(async () => {
  platform?.close();
  await world?.cleanup();
});

test('pre-checks name every failing check and nothing is changed', async () => {
  const envFile = world.example.envFiles.production;
  const original = await fs.readFile(envFile, 'utf8');
  await fs.writeFile(envFile, original.split('\n').filter((l) => !l.startsWith('GREETING=')).join('\n'));
  try {
    // Pre-checks run before production's gate (which guards the first mutating stage), so approvers
    // are never asked to approve a deploy that cannot work.
    const { status, result } = await world.outcome(await world.deploy({ environment: 'production', version: '1.0.0' }));
    assert.equal(status, 'failed');
    assert.match(result.reason ?? '', /pre-checks failed, nothing was changed/);
    assert.match(result.reason ?? '', /config: missing in .*: GREETING/);
    assert.match(result.reason ?? '', /dependency:payments-api: 127\.0\.0\.1:9/);
    assert.deepEqual(result.stages.map((s) => `${s.stage}:${s.status}`), ['plan:succeeded', 'build:succeeded', 'preChecks:failed']);
    assert.equal(result.compensations.length, 0);
    await assert.rejects(fs.access(path.join(world.targetRoot('production'), 'current')));
  } finally {
    await fs.writeFile(envFile, original);
  }
});

test('the command target deploys through operator commands as argv and rolls back through them', async () => {
  const good = await world.outcome(await world.deploy({ environment: 'edge', version: '1.1.0' }));
  assert.equal(good.status, 'succeeded', JSON.stringify(good.result.timeline, null, 1));
  assert.match(await fs.readFile(path.join(commandWorkDir(), 'live.txt'), 'utf8'), /^1\.1\.0 [0-9a-f]{64}\n$/);

  const bad = await world.outcome(await world.deploy({ environment: 'edge', version: '2.0.0' }));
  assert.equal(bad.status, 'rolled_back');
  assert.match(await fs.readFile(path.join(commandWorkDir(), 'live.txt'), 'utf8'), /^1\.1\.0 /);
  const args = JSON.parse(await fs.readFile(path.join(commandWorkDir(), 'rollback-args.json'), 'utf8'));
  assert.equal(args[0], '1.1.0');
  assert.equal(args[2], '2.0.0');
});
