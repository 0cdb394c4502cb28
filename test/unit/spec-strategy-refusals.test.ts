import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { resolvePlan } from '../../src/spec/load';
import { deploySpecSchema, describeIssues } from '../../src/spec/schema';

// Strategies are checked when the spec is validated (at plan, before anything runs): every bad weight,
// step or promote rule is refused naming its field path and what to do; the example's strategies resolve
// into the plan the workflow runs.
const EXAMPLE = path.join(__dirname, '..', '..', 'examples', 'hello-service', 'deploy.yaml');

async function example(): Promise<Record<string, any>> {
  return YAML.parse(await fs.readFile(EXAMPLE, 'utf8'));
}

async function refusals(mutate: (spec: Record<string, any>) => void): Promise<string[]> {
  const spec = await example();
  mutate(spec);
  const parsed = deploySpecSchema.safeParse(spec);
  assert.equal(parsed.success, false, 'the spec must be refused');
  return describeIssues(parsed.error!);
}

const canary = (steps: unknown[], extra: Record<string, unknown> = {}) => (spec: Record<string, any>) => {
  spec.environments.staging.strategy = { type: 'canary', steps, ...extra };
};

test('the example validates: staging is a canary 25 → 50 with analysis, production blue/green paused for promote', async () => {
  const spec = deploySpecSchema.parse(await example());
  const plan = (environment: string) =>
    resolvePlan({ spec, specSource: 'deploy.yaml', specSha256: '', input: { spec: 'deploy.yaml', environment, version: '1.1.0', requestedBy: 'carol' }, cwd: '/srv', dataDir: '.data', live: null, previouslyLive: false });
  const staging = plan('staging');
  assert.deepEqual(staging.strategy?.type === 'canary' && staging.strategy.steps, [{ setWeight: 25 }, { analysis: { against: 'canary' } }, { setWeight: 50 }, { analysis: { against: 'canary' } }]);
  assert.equal(staging.target.type === 'local' && staging.target.frontDoor?.name, 'hello-service-staging');
  assert.equal(staging.health.url, 'http://127.0.0.1:18081/readyz', 'validate judges the public port: the front door');
  const production = plan('production');
  assert.equal(production.strategy?.type, 'blueGreen');
  assert.deepEqual(production.strategy?.type === 'blueGreen' && [production.strategy.pauseForPromote, production.strategy.promoters, production.strategy.signed], [true, ['alice', 'bob'], true]);
});

test('a weight outside 0-100 is refused, naming the step', async () => {
  const issues = await refusals(canary([{ setWeight: 25 }, { setWeight: 150 }]));
  assert.ok(issues.some((i) => /environments\.staging\.strategy\.steps\.1\.setWeight.*percentage 0-100/.test(i)), issues.join('\n'));
  const negative = await refusals(canary([{ setWeight: -5 }]));
  assert.ok(negative.some((i) => /steps\.0\.setWeight.*percentage 0-100/.test(i)), negative.join('\n'));
});

test('a step after the weight reached 100 is refused', async () => {
  const issues = await refusals(canary([{ setWeight: 100 }, { setWeight: 50 }]));
  assert.ok(issues.some((i) => /environments\.staging\.strategy\.steps\.1: comes after steps\[0\] set the weight to 100/.test(i)), issues.join('\n'));
});

test('a pause for promote without anyone allowed to promote is refused, for canary and blue/green', async () => {
  const issues = await refusals(canary([{ setWeight: 25 }, { pause: {} }]));
  assert.ok(issues.some((i) => /environments\.staging\.strategy\.steps\.1\.pause: a pause without seconds waits for promote, and nobody may promote/.test(i)), issues.join('\n'));
  const bg = await refusals((spec) => {
    spec.environments.production.strategy = { type: 'blueGreen', pauseForPromote: true };
  });
  assert.ok(bg.some((i) => /environments\.production\.strategy\.pauseForPromote: a pause for promote needs someone allowed to promote/.test(i)), bg.join('\n'));
});

test('a step that is two things at once, or an unknown field, is refused', async () => {
  const both = await refusals(canary([{ setWeight: 25, pause: { seconds: 5 } }]));
  assert.ok(both.some((i) => /steps\.0: a step is exactly one of setWeight, analysis or pause \(this one has setWeight and pause\)/.test(i)), both.join('\n'));
  const typo = await refusals(canary([{ setWeigth: 25 }]));
  assert.ok(typo.some((i) => /steps\.0/.test(i) && /setWeigth/.test(i)), typo.join('\n'));
});

test('canary on a command target is refused: it cannot run two releases behind a front door', async () => {
  const issues = await refusals((spec) => {
    spec.environments.staging.target = { type: 'command', deploy: ['true'], current: ['true'], rollback: ['true'] };
    spec.environments.staging.health = { url: 'http://127.0.0.1:18081/readyz' };
    spec.environments.staging.strategy = { type: 'canary', steps: [{ setWeight: 25 }] };
  });
  assert.ok(issues.some((i) => /environments\.staging\.strategy\.type: canary needs a target that can run two releases behind a front door/.test(i)), issues.join('\n'));
});

test('promoters without trust.allowedSigners are refused: promote decisions are signed', async () => {
  const issues = await refusals((spec) => {
    delete spec.trust;
    for (const env of Object.values<any>(spec.environments)) delete env.gates;
  });
  assert.ok(issues.some((i) => /environments\.production\.strategy\.promoters: promote decisions are signed/.test(i)), issues.join('\n'));
});
