import { promises as fs } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { createCommandTarget, type CommandRecord, type ReleaseToDeploy } from '../src/targets';
import { encodingsOf } from '../src/targets/command/redact';
import { makeTempDir } from './fixtures/targets/harness';

const node = process.execPath;
const LEAKY = path.join(__dirname, 'fixtures/targets/leaky-platform.js');
const FAKE_PLATFORM = path.join(__dirname, 'fixtures/targets/fake-platform.js');
let work: string;

const workerApiKey = 'tmprl-api-key-3f9a8c7d6e5b4a39';
const workerDbPassword = 'db pa$$/word+9e8d';
const workerDatabaseUrl = `postgres://deployer:${encodeURIComponent(workerDbPassword)}@db.internal:5432/deployer`;
const signingToken = 'sign-token-71c2a9e0bb45';
const runtimeSecret = 'runtime-secret-5a4b3c2d1e';
const saved: Record<string, string | undefined> = {};

before(async () => {
  work = await makeTempDir('command-env');
  for (const [name, value] of Object.entries({
    TEMPORAL_API_KEY: workerApiKey,
    DEPLOY_DATABASE_URL: workerDatabaseUrl,
    DEPLOY_SIGNING_TOKEN: signingToken,
  })) {
    saved[name] = process.env[name];
    process.env[name] = value;
  }
});
after(async () => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  await fs.rm(work, { recursive: true, force: true });
});

const release: ReleaseToDeploy = { service: 'hello-service', environment: 'staging', version: '1.0.0', sha256: 'a'.repeat(64), artifactPath: '/artifacts/hello.tar.gz' };

async function failedDeployRecord(deploy: string[]): Promise<CommandRecord> {
  const workDir = await fs.mkdtemp(path.join(work, 'wd-'));
  const target = createCommandTarget({
    deploy,
    current: [node, FAKE_PLATFORM, 'current'],
    rollback: [node, FAKE_PLATFORM, 'rollback', '{version}', '{sha256}', '{previousVersion}'],
    timeoutMs: 30_000,
    workDir,
  });
  let record: CommandRecord | undefined;
  await assert.rejects(target.deploy(release, { APP_SECRET: runtimeSecret, APP_GREETING: 'hello' }), (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure, String(err));
    record = err.details![0] as CommandRecord;
    return true;
  });
  return record!;
}

function assertNoSpelling(output: string, what: string, value: string) {
  for (const form of [value, encodeURIComponent(value), ...encodingsOf(value)]) {
    assert.equal(output.includes(form), false, `${what} appears in the recorded output as ${JSON.stringify(form)}:\n${output}`);
  }
}

test("a command gets an allowlisted environment: PATH, HOME, LANG, the placeholders and the release's runtime config", async () => {
  const record = await failedDeployRecord([node, LEAKY, '3']);
  const envLine = record.output.split('\n').find((l) => l.startsWith('env '));
  assert.ok(envLine, record.output);
  const env = JSON.parse(envLine.slice(4)) as Record<string, string>;
  const names = Object.keys(env).filter((n) => !['LANG', 'LC_ALL', 'TZ', 'HOME'].includes(n));
  assert.deepEqual(names.sort(), [
    'APP_GREETING',
    'APP_SECRET',
    'DEPLOY_ARTIFACT',
    'DEPLOY_ENVIRONMENT',
    'DEPLOY_PREVIOUS_VERSION',
    'DEPLOY_RELEASE_ID',
    'DEPLOY_SERVICE',
    'DEPLOY_SHA256',
    'DEPLOY_VERSION',
    'PATH',
  ]);
  assert.equal(env.DEPLOY_VERSION, '1.0.0');
  // Runtime values reach the command, and are masked in its recorded output like every runtime value.
  assert.equal(env.APP_GREETING, '[redacted:APP_GREETING]');
  assert.equal(env.APP_SECRET, '[redacted:APP_SECRET]');
  assert.equal(record.output.includes('hello'), false);
});

test("the worker's secrets and the runtime values are masked raw, URL-encoded and base64-encoded at every offset", async () => {
  const cases: Array<[string, string, string, string]> = [
    ['the runtime secret', 'APP_SECRET', runtimeSecret, 'APP_SECRET'],
    ["the worker's Temporal API key", `=${workerApiKey}`, workerApiKey, 'TEMPORAL_API_KEY'],
    ["the worker's database password", `=${workerDbPassword}`, workerDbPassword, 'DEPLOY_DATABASE_URL:password'],
    ["the worker's database URL", `=${workerDatabaseUrl}`, workerDatabaseUrl, 'DEPLOY_DATABASE_URL'],
    ["the worker's signing token", `=${signingToken}`, signingToken, 'DEPLOY_SIGNING_TOKEN'],
  ];
  for (const [what, arg, value, name] of cases) {
    const record = await failedDeployRecord([node, LEAKY, '3', arg]);
    const output = record.output.slice(0, record.output.indexOf('\nenv '));
    assert.match(output, new RegExp(`raw \\[redacted:${name}\\]`), output);
    assert.match(output, /base64 and more/, output);
    assertNoSpelling(record.output, what, value);
    assert.ok(record.output.length <= 2048, `the recorded output is a bounded tail (${record.output.length} chars)`);
  }
});
