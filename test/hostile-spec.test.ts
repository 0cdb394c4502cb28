import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { startDeployWorld, type DeployWorld } from './helpers/deploy-world';
import { assertNothingChanged, assertRefusedAtPlan, markerFile, planRefusal, snapshotWorld } from './helpers/hostile';

/**
 * Hostile deploy specs, given inline in the workflow input and as files the worker reads. Each is refused
 * by the plan activity as SpecInvalid on its first attempt, naming the field path, before anything runs.
 */

let world: DeployWorld;
const LOCK_ID = 'deploy-hello-service-staging';
const MB = 1024 * 1024;

before(async () => {
  world = await startDeployWorld();
  await world.startWorker();
});
after(async () => {
  await world?.cleanup();
});

type Spec = Record<string, any>;
const marker = { service: markerFile('spec-service'), runtime: markerFile('spec-runtime'), dependency: markerFile('spec-dependency') };

interface Case {
  name: string;
  mutate: (spec: Spec) => void;
  field: string | RegExp;
  markers?: string[];
  /** Inline object, YAML file, or both (default). */
  forms?: Array<'inline' | 'yaml'>;
}

const staging = (s: Spec) => s.environments.staging;
const productionGate = (s: Spec) => s.environments.production.gates[0];

const cases: Case[] = [
  // path traversal and absolute paths where relative ones are required
  { name: 'service ../../etc/passwd', mutate: (s) => (s.service = '../../etc/passwd'), field: 'service' },
  { name: 'build.outputs absolute', mutate: (s) => (s.build.outputs = ['/etc/passwd']), field: 'build.outputs.0' },
  { name: 'build.outputs climbing out', mutate: (s) => (s.build.outputs = ['dist', 'dist/../../../x']), field: 'build.outputs.1' },
  { name: 'migrations.directory absolute', mutate: (s) => (s.migrations.directory = '/var/lib/postgresql'), field: 'migrations.directory' },
  { name: 'migrations.directory climbing out', mutate: (s) => (s.migrations.directory = '../other-service/migrations'), field: 'migrations.directory' },
  { name: 'target.root with ..', mutate: (s) => (staging(s).target.root = `${staging(s).target.root}/../../../etc`), field: 'environments.staging.target.root' },
  { name: 'source.repository with ..', mutate: (s) => (s.source.repository = `${s.source.repository}/../../..`), field: 'source.repository' },
  { name: 'environment key ../prod', mutate: (s) => (s.environments['../prod'] = s.environments.staging), field: 'environments.../prod' },
  // shell metacharacters
  { name: 'service with ;touch', mutate: (s) => (s.service = `hello-service;touch ${marker.service}`), field: 'service', markers: [marker.service] },
  { name: 'runtime.command as a shell string', mutate: (s) => (s.runtime.command = `node dist/server.js && touch ${marker.runtime}`), field: 'runtime.command', markers: [marker.runtime] },
  { name: 'dependency tcp with ;touch', mutate: (s) => (staging(s).dependencies = [{ name: 'postgres', tcp: `127.0.0.1:5432;touch ${marker.dependency}` }]), field: 'environments.staging.dependencies.0.tcp', markers: [marker.dependency] },
  { name: 'requiredConfig name with $()', mutate: (s) => (s.runtime.requiredConfig = ['DATABASE_URL', '$(id)']), field: 'runtime.requiredConfig.1' },
  { name: 'health.path that is a URL', mutate: (s) => (s.health.path = 'http://evil.example/'), field: 'health.path' },
  // control and look-alike unicode
  { name: 'envFile with NUL', mutate: (s) => (staging(s).config.envFile = '/etc/shadow\u0000.env'), field: 'environments.staging.config.envFile' },
  { name: 'build.command argument with NUL', mutate: (s) => (s.build.command = ['node', 'build.js\u0000--evil']), field: 'build.command.1' },
  { name: 'service with Cyrillic о', mutate: (s) => (s.service = 'hellо-service'), field: 'service' },
  { name: 'approver with Cyrillic а (аlice)', mutate: (s) => (productionGate(s).approvers = ['аlice', 'bob']), field: 'environments.production.gates.0.approvers.0' },
  { name: 'approver with zero-width space', mutate: (s) => (productionGate(s).approvers = ['alice', 'b\u200bob']), field: 'environments.production.gates.0.approvers.1' },
  { name: 'approver with bidi override', mutate: (s) => (productionGate(s).approvers = ['alice\u202e']), field: 'environments.production.gates.0.approvers.0' },
  // huge strings (a YAML file this big is refused for its size: see the file-only cases)
  { name: 'service of 1 MB', mutate: (s) => (s.service = 'a'.repeat(MB)), field: 'service', forms: ['inline'] },
  // zero or negative thresholds
  { name: 'environment health.intervalMs 0', mutate: (s) => (staging(s).health = { intervalMs: 0 }), field: 'environments.staging.health.intervalMs' },
  { name: 'health.minSuccessRatio 0', mutate: (s) => (s.health.minSuccessRatio = 0), field: 'health.minSuccessRatio' },
  { name: 'environment health.minSuccessRatio 1.5', mutate: (s) => (staging(s).health = { minSuccessRatio: 1.5 }), field: 'environments.staging.health.minSuccessRatio' },
  { name: 'health.maxConsecutiveFailures -1', mutate: (s) => (s.health.maxConsecutiveFailures = -1), field: 'health.maxConsecutiveFailures' },
  { name: 'environment health.windowMs negative', mutate: (s) => (staging(s).health = { windowMs: -5 }), field: 'environments.staging.health.windowMs' },
  { name: 'gate quorum 0', mutate: (s) => (productionGate(s).quorum = 0), field: 'environments.production.gates.0.quorum' },
  { name: 'timeouts.heartbeatMs -1', mutate: (s) => (s.timeouts.heartbeatMs = -1), field: 'timeouts.heartbeatMs' },
  { name: 'preChecks.minFreeDiskMb negative', mutate: (s) => (s.preChecks = { minFreeDiskMb: -1 }), field: 'preChecks.minFreeDiskMb' },
  // unknown fields
  { name: 'unknown top-level field hooks', mutate: (s) => (s.hooks = { preDeploy: ['sh', '-c', 'id'] }), field: 'hooks' },
  { name: 'unknown nested field target.privileged', mutate: (s) => (staging(s).target.privileged = true), field: 'environments.staging.target.privileged' },
  { name: 'unknown gate field skip', mutate: (s) => (productionGate(s).skip = true), field: 'environments.production.gates.0.skip' },
  // wrong types and missing fields
  { name: 'target.port as a string', mutate: (s) => (staging(s).target.port = '18081'), field: 'environments.staging.target.port' },
  { name: 'gate requesterMayApprove as "yes"', mutate: (s) => (productionGate(s).requesterMayApprove = 'yes'), field: 'environments.production.gates.0.requesterMayApprove' },
  { name: 'environments as a list', mutate: (s) => (s.environments = [s.environments.staging]), field: 'environments' },
  { name: 'missing runtime', mutate: (s) => delete s.runtime, field: 'runtime' },
  { name: 'missing environments.staging.target', mutate: (s) => delete staging(s).target, field: 'environments.staging.target' },
];

let fileNo = 0;
async function writeSpecFile(text: string, ext = 'yaml'): Promise<string> {
  const file = path.join(world.dataDir, 'hostile-specs', `spec-${++fileNo}.${ext}`);
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, text);
  return file;
}

async function refuseSpec(label: string, spec: string | Spec, field: string | RegExp, markers: string[] = [], type = 'SpecInvalid'): Promise<string> {
  const before = await snapshotWorld(world);
  const handle = await world.client.workflow.start('deployRelease', {
    taskQueue: 'deploys',
    workflowId: LOCK_ID,
    args: [{ spec, environment: 'staging', version: '1.0.0', requestedBy: 'carol' }],
  });
  const refusal = await planRefusal(world, handle);
  assertRefusedAtPlan(refusal, { field, type, label });
  assert.ok(refusal.reason.length < 4000, `${label}: reason is ${refusal.reason.length} chars`);
  await assertNothingChanged(world, before, label, markers);
  return refusal.reason;
}

for (const c of cases) {
  for (const form of c.forms ?? (['inline', 'yaml'] as const)) {
    test(`spec refused (${form}): ${c.name}`, async () => {
      const spec = structuredClone(world.spec);
      c.mutate(spec);
      const source = form === 'inline' ? spec : await writeSpecFile(YAML.stringify(spec));
      await refuseSpec(`${c.name} (${form})`, source, c.field, c.markers);
    });
  }
}

test('spec file refused: a YAML alias bomb (billion laughs) is not expanded', async () => {
  const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i < 9; i++) levels.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
  const file = await writeSpecFile(`${levels.join('\n')}\nservice: hello-service\n`);
  await refuseSpec('alias bomb', file, /not valid YAML: .*alias/i);
});

test('spec file refused: a duplicated key is named, not silently overridden', async () => {
  const text = YAML.stringify(world.spec).replace(/^environments:/m, 'service: evil-service\nenvironments:');
  await refuseSpec('duplicate key', await writeSpecFile(text), /key "service" appears twice/);
});

test('spec file refused: a duplicated nested key (a second gates list) is named', async () => {
  const text = YAML.stringify(world.spec).replace(/^( +)gates:/m, '$1gates: []\n$1gates:');
  await refuseSpec('duplicate nested key', await writeSpecFile(text), /key "gates" appears twice/);
});

test('spec file refused: a 1 MB spec file is not read', async () => {
  const text = YAML.stringify({ ...world.spec, service: 'a'.repeat(MB) });
  await refuseSpec('1 MB file', await writeSpecFile(text), /larger than \d+ bytes/);
});

test('spec file refused: a JSON spec with a __proto__ key is refused by name', async () => {
  const text = JSON.stringify(world.spec).replace(/^\{/, '{"__proto__":{"service":"evil"},');
  await refuseSpec('__proto__ key', await writeSpecFile(text, 'json'), '__proto__');
});

test('spec file refused: a .yaml symlink to /etc/passwd is outside the spec root, and the refusal does not echo the file', async () => {
  const link = path.join(world.dataDir, 'hostile-specs', 'passwd.yaml');
  await fs.mkdir(path.dirname(link), { recursive: true });
  await fs.symlink('/etc/passwd', link);
  const reason = await refuseSpec('symlink to /etc/passwd', link, /input\.spec: .*passwd\.yaml resolves outside the spec root/, [], 'PathOutsideRoots');
  assert.doesNotMatch(reason, /root:x:0|\/bin\/(ba)?sh/);
});

test('spec file refused: a directory named like a spec', async () => {
  const dir = path.join(world.dataDir, 'hostile-specs', 'dir.yaml');
  await fs.mkdir(dir, { recursive: true });
  await refuseSpec('directory', dir, /not a file/);
});
