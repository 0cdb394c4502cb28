import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { resolvePlan } from '../../src/spec/load';
import { deploySpecSchema, describeIssues } from '../../src/spec/schema';
import { readConfigSource } from '../../src/runtime-config';
import { renderRunbook } from '../../src/runbook/render';

// A service with no runtime configuration and no database needs no config source: the spec, the plan, the
// config reader and the runbook all accept that, and say so plainly.
const EXAMPLE = path.join(__dirname, '..', '..', 'examples', 'hello-service', 'deploy.yaml');

async function specWithoutConfig(): Promise<Record<string, any>> {
  const spec = YAML.parse(await fs.readFile(EXAMPLE, 'utf8'));
  spec.runtime.requiredConfig = [];
  for (const env of Object.values<any>(spec.environments)) {
    delete env.config;
    delete env.database;
  }
  return spec;
}

test('config.envFile is optional: the spec validates and the plan has no config source', async () => {
  const parsed = deploySpecSchema.parse(await specWithoutConfig());
  const plan = resolvePlan({ spec: parsed, specSource: 'x.yaml', specSha256: '', input: { spec: 'x.yaml', environment: 'staging', version: '1.0.0', requestedBy: 'carol' }, cwd: '/srv', dataDir: '.data', live: null, previouslyLive: false });
  assert.equal(plan.config.envFile, undefined);
  assert.deepEqual(await readConfigSource(plan.config.envFile), {});
});

test('a database without a config source is refused, naming the field and the fix', async () => {
  const spec = await specWithoutConfig();
  spec.environments.staging.database = { urlFromConfig: 'DATABASE_URL' };
  const parsed = deploySpecSchema.safeParse(spec);
  assert.equal(parsed.success, false);
  assert.ok(describeIssues(parsed.error!).some((i) => /environments\.staging\.config: database\.urlFromConfig names DATABASE_URL, which must come from a config source: add config\.envFile/.test(i)));
});

test('the runbook of a service with neither config nor database does not talk about them', async () => {
  const spec = deploySpecSchema.parse(await specWithoutConfig());
  const text = renderRunbook({ spec, environment: 'staging', specPath: 'x.yaml', taskQueue: 'deploys' });
  assert.match(text, /no runtime config source/);
  assert.match(text, /names no database .* no migrations to run/);
});
