import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { deploySpecSchema, describeIssues } from '../../src/spec/schema';
import { createCommandTarget, createLocalTarget, TARGET_TYPES } from '../../src/targets';
import { FailureType } from '../../src/errors';
import { batchCount } from '../../src/targets/fleet';

// Each target kind has one schema: the spec and the target's factory accept exactly the same settings, and
// a mistake in a command target's placeholders is refused when the spec is read, before any build.
const EXAMPLE = path.join(__dirname, '..', '..', 'examples', 'hello-service', 'deploy.yaml');

async function exampleSpec(): Promise<Record<string, any>> {
  return YAML.parse(await fs.readFile(EXAMPLE, 'utf8'));
}

function specIssues(spec: unknown): string[] {
  const parsed = deploySpecSchema.safeParse(spec);
  return parsed.success ? [] : describeIssues(parsed.error);
}

function factoryRefusal(make: () => unknown): string | null {
  try {
    make();
    return null;
  } catch (err) {
    assert.equal((err as { type?: string }).type, FailureType.SpecInvalid);
    return (err as Error).message;
  }
}

test('every registered kind has its own module folder, and the example uses a registered kind', async () => {
  for (const type of TARGET_TYPES) {
    const stat = await fs.stat(path.join(__dirname, '..', '..', 'src', 'targets', type, 'index.ts'));
    assert.ok(stat.isFile(), `src/targets/${type}/index.ts`);
  }
  const spec = await exampleSpec();
  for (const env of Object.values<any>(spec.environments)) assert.ok(TARGET_TYPES.includes(env.target.type));
});

test('local target: the spec and the factory agree on every boundary value', async () => {
  const cases: Array<Record<string, unknown>> = [
    { port: 80 }, { port: 1023 }, { port: 1024 }, { port: 65535 }, { port: 65536 }, { port: 8080.5 },
    { keepReleases: 0 }, { keepReleases: 1 }, { keepReleases: 100 }, { keepReleases: 101 },
    { stopTimeoutMs: -1 }, { stopTimeoutMs: 0 }, { stopTimeoutMs: 5000 },
    { startTimeoutMs: 99 }, { startTimeoutMs: 100 }, { startTimeoutMs: 30_000 },
  ];
  for (const change of cases) {
    const spec = await exampleSpec();
    Object.assign(spec.environments.staging.target, change);
    const specOk = specIssues(spec).length === 0;
    const { type: _type, root: _root, ...settings } = spec.environments.staging.target;
    const factoryOk = factoryRefusal(() => createLocalTarget({ root: '/srv/hello', command: ['node', 'server.js'], ...settings })) === null;
    assert.equal(specOk, factoryOk, `${JSON.stringify(change)}: spec ${specOk ? 'accepts' : 'refuses'} but the factory ${factoryOk ? 'accepts' : 'refuses'}`);
  }
});

test('command target: placeholder mistakes are refused by the spec, naming the argument, as the factory would', async () => {
  const base = { deploy: ['deployer', '{version}'], current: ['deployer', 'current', '{service}'], rollback: ['deployer', 'rollback', '{version}'] };
  const cases: Array<{ change: Record<string, string[]>; field: RegExp }> = [
    { change: { deploy: ['deployer', '{verison}'] }, field: /environments\.staging\.target\.deploy\.1: uses unknown placeholder \{verison\}/ },
    { change: { current: ['deployer', '{artifact}'] }, field: /environments\.staging\.target\.current\.1: uses \{artifact\}, which the current command is not given/ },
    { change: { rollback: ['deployer', '{artifact}'] }, field: /environments\.staging\.target\.rollback\.1: uses \{artifact\}/ },
  ];
  for (const { change, field } of cases) {
    const spec = await exampleSpec();
    spec.environments.staging.target = { type: 'command', ...base, ...change };
    delete spec.environments.staging.strategy; // a command target deploys with replace
    spec.environments.staging.health = { url: 'http://127.0.0.1:9/readyz' };
    const issues = specIssues(spec);
    assert.ok(issues.some((i) => field.test(i)), `${JSON.stringify(change)} → ${issues.join('; ')}`);
    assert.match(factoryRefusal(() => createCommandTarget({ ...base, ...change, timeoutMs: 1000, workDir: '/tmp/x', service: 'hello-service', environment: 'staging' }))!, /placeholder|not given/);
  }
  const good = await exampleSpec();
  good.environments.staging.target = { type: 'command', ...base };
  delete good.environments.staging.strategy;
  good.environments.staging.health = { url: 'http://127.0.0.1:9/readyz' };
  assert.deepEqual(specIssues(good), []);
});

test('a kind without a default readiness URL needs health.url, and an unknown kind is refused naming the known ones', async () => {
  const spec = await exampleSpec();
  spec.environments.staging.target = { type: 'command', deploy: ['d'], current: ['c'], rollback: ['r'] };
  assert.ok(specIssues(spec).some((i) => /environments\.staging\.health\.url: a command target needs health\.url/.test(i)));
  const other = await exampleSpec();
  other.environments.staging.target = { type: 'kubernetes', namespace: 'x' };
  assert.ok(specIssues(other).some((i) => /environments\.staging\.target\.type/.test(i)), specIssues(other).join('; '));
});

test('fleet target: hosts, batches and the front door are checked when the spec is read, naming the field', async () => {
  const refusals: Array<[(t: Record<string, any>) => void, RegExp]> = [
    [(t) => (t.hosts[1].name = t.hosts[0].name), /environments\.fleet\.target\.hosts\.1\.name.*"web-1" is already hosts\[0\]/],
    [(t) => (t.hosts[1].name = '../web'), /environments\.fleet\.target\.hosts\.1\.name.*lowercase letters, digits and dashes/],
    [(t) => (t.hosts[2].port = t.hosts[0].port), /environments\.fleet\.target\.hosts\.2\.port.*already the port of hosts\[0\]/],
    [(t) => (t.hosts[0].port = t.frontDoor.port), /environments\.fleet\.target\.hosts\.0\.port.*the front door's port/],
    [(t) => (t.maxFailedHosts = 6), /environments\.fleet\.target\.maxFailedHosts.*less than the number of hosts \(6\)/],
    [(t) => (t.batchSize = '0%'), /environments\.fleet\.target\.batchSize/],
    [(t) => (t.batchSize = 0), /environments\.fleet\.target\.batchSize/],
    [(t) => (t.hosts = Array.from({ length: 65 }, (_, i) => ({ name: `h-${i}`, port: 20_000 + i }))), /environments\.fleet\.target\.hosts.*at most 64 hosts/],
    [(t) => (t.hostTimeoutMs = 10), /environments\.fleet\.target\.hostTimeoutMs.*at least 1000/],
  ];
  for (const [change, expected] of refusals) {
    const spec = await exampleSpec();
    change(spec.environments.fleet.target);
    const issues = specIssues(spec).join('\n');
    assert.match(issues, expected, `${change.toString()}: ${issues || 'accepted'}`);
  }
  // Without a front door a fleet may have 1,000 hosts (the ports are on their own machines) and percentages batch it.
  const spec = await exampleSpec();
  delete spec.environments.fleet.target.frontDoor;
  spec.environments.fleet.health = { url: 'http://127.0.0.1:18091/readyz' };
  spec.environments.fleet.target.hosts = Array.from({ length: 1000 }, (_, i) => ({ name: `h-${i}`, port: 20_000 }));
  spec.environments.fleet.target.batchSize = '10%';
  assert.deepEqual(specIssues(spec), []);
  // …but not one host at a time: 1,000 batches would outgrow the deploy's history.
  spec.environments.fleet.target.batchSize = 1;
  assert.match(specIssues(spec).join('\n'), /environments\.fleet\.target\.batchSize.*1000 hosts in batches of 1 make 1000 batches; at most 500/);
  // A fleet runs one release per host: blueGreen and canary need a kind that runs two side by side.
  const canary = await exampleSpec();
  canary.environments.fleet.strategy = { type: 'canary', steps: [{ setWeight: 50 }] };
  assert.match(specIssues(canary).join('\n'), /environments\.fleet\.strategy/);
});

test('fleet target: a batch size in percent is rounded up, at least one host, at most all', () => {
  assert.deepEqual([batchCount('10%', 1000), batchCount('25%', 6), batchCount('1%', 6), batchCount('100%', 6), batchCount(2, 6), batchCount(10, 6)], [100, 2, 1, 6, 2, 6]);
});
