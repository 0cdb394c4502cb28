import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { planActivity } from '../../src/activities/plan';
import { signDeployRequest } from '../../src/client/signing';
import type { WorkerConfig } from '../../src/config';
import { FailureType } from '../../src/errors';
import type { Registry } from '../../src/registry/registry';
import { ensureKeys, writeAllowedSigners } from '../../src/trust/keys';

/**
 * The plan activity decides which specs and policies exist, not the caller: specs only from the spec root
 * (symlinks followed), host paths only inside the host roots, inline specs only when the worker allows them
 * and never for a gated environment, and a request to a signed environment only with its requester's
 * signature. Every refusal is non-retryable, names its reason, and happens before anything runs.
 */
const EXAMPLE = path.join(__dirname, '..', '..', 'examples', 'hello-service', 'deploy.yaml');
let root: string;
let outside: string;
let keys: Record<string, string>;
const registry = { live: async () => null, lastLiveOf: async () => null, otherPairsOfWorkflowId: async () => [] } as unknown as Registry;

function planner(config: Partial<WorkerConfig> = {}) {
  return planActivity({ config: { DEPLOY_DATA_DIR: path.join(root, '.data'), DEPLOY_ALLOW_INLINE_SPECS: 'false', ...config } as WorkerConfig, registry, cwd: root });
}

async function exampleSpec(): Promise<Record<string, any>> {
  return YAML.parse(await fs.readFile(EXAMPLE, 'utf8'));
}

before(async () => {
  root = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'spec-root-')));
  outside = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'outside-root-')));
  const made = await ensureKeys(path.join(root, '.data', 'keys'), ['alice', 'bob', 'carol', 'mallory']);
  keys = Object.fromEntries(made.map((k) => [k.name, k.privateKeyFile]));
  await fs.mkdir(path.join(root, 'specs'), { recursive: true });
  await writeAllowedSigners(path.join(root, 'specs', 'allowed_signers'), made.filter((k) => k.name !== 'mallory').map((k) => ({ principal: k.name, publicKeyLine: k.publicKeyLine })));
  await fs.writeFile(path.join(root, 'specs', 'deploy.yaml'), YAML.stringify(await exampleSpec()));
  await fs.writeFile(path.join(outside, 'deploy.yaml'), YAML.stringify(await exampleSpec()));
  await fs.symlink(outside, path.join(root, 'specs', 'elsewhere'));
});
after(async () => {
  for (const dir of [root, outside]) if (dir) await fs.rm(dir, { recursive: true, force: true });
});

const input = (o: Record<string, unknown> = {}) => ({ spec: 'specs/deploy.yaml', environment: 'staging', version: '1.1.0', requestedBy: 'carol', ...o });
const plan = (i: unknown, workflowId = 'deploy-hello-service-staging', config: Partial<WorkerConfig> = {}) => planner(config)({ input: i, workflowId, runId: 'r1' });

async function refusal(promise: Promise<unknown>, type: string, message: RegExp): Promise<void> {
  const err = await promise.then(
    () => assert.fail('the plan was accepted'),
    (e: unknown) => e as { type?: string; nonRetryable?: boolean; message: string },
  );
  assert.equal(err.type, type, err.message);
  assert.equal(err.nonRetryable, true);
  assert.match(err.message, message);
}

test('a spec inside the spec root plans; the plan records the trusted keys and the gate as signed', async () => {
  const p = await plan(input());
  assert.equal(p.service, 'hello-service');
  assert.deepEqual(p.trust?.allowedSigners.map((s) => s.principals.join(',')), ['alice', 'bob', 'carol']);
  assert.equal(p.request, undefined, 'staging has no signed gate: no request proof needed');
});

test('a spec path outside the root is refused naming the root: absolute, and through a symlink', async () => {
  await refusal(plan(input({ spec: path.join(outside, 'deploy.yaml') })), FailureType.PathOutsideRoots, new RegExp(`input\\.spec: .* resolves outside the spec root \\(${root}\\)`));
  await refusal(plan(input({ spec: 'specs/elsewhere/deploy.yaml' })), FailureType.PathOutsideRoots, /input\.spec: .*outside the spec root/);
});

test('a worker with DEPLOY_SPEC_ROOT elsewhere refuses the specs of its working directory', async () => {
  await refusal(plan(input({ spec: path.join(root, 'specs', 'deploy.yaml') }), undefined, { DEPLOY_SPEC_ROOT: outside }), FailureType.PathOutsideRoots, new RegExp(`outside the spec root \\(${outside}\\)`));
  // A relative path is read from the spec root, not from the working directory.
  await refusal(plan(input(), undefined, { DEPLOY_SPEC_ROOT: outside }), FailureType.SpecInvalid, new RegExp(`cannot read it \\(ENOENT\\) from ${outside}`));
});

test('inline specs are refused unless the worker allows them, and never for a gated environment', async () => {
  const inline = await exampleSpec();
  await refusal(plan(input({ spec: inline })), FailureType.InvalidInput, /input\.spec: this worker refuses inline specs.*DEPLOY_ALLOW_INLINE_SPECS=true/);
  await refusal(
    plan(input({ spec: inline, environment: 'production' }), 'deploy-hello-service-production', { DEPLOY_ALLOW_INLINE_SPECS: 'true' }),
    FailureType.InvalidInput,
    /an inline spec cannot deploy to production, which has an approval gate/,
  );
});

test('host paths outside the host roots are refused, naming the field', async () => {
  const spec = await exampleSpec();
  spec.environments.staging.config.envFile = '/etc/shadow';
  await fs.writeFile(path.join(root, 'specs', 'envfile.yaml'), YAML.stringify(spec));
  await refusal(plan(input({ spec: 'specs/envfile.yaml' })), FailureType.PathOutsideRoots, /environments\.staging\.config\.envFile: \/etc\/shadow resolves outside the host roots/);

  const target = await exampleSpec();
  target.environments.staging.target.root = `${outside}/targets/staging`;
  await fs.writeFile(path.join(root, 'specs', 'target.yaml'), YAML.stringify(target));
  await refusal(plan(input({ spec: 'specs/target.yaml' })), FailureType.PathOutsideRoots, /environments\.staging\.target: .* resolves outside the host roots/);

  const signers = await exampleSpec();
  signers.trust.allowedSigners = 'elsewhere/allowed_signers';
  await fs.writeFile(path.join(root, 'specs', 'signers.yaml'), YAML.stringify(signers));
  await refusal(plan(input({ spec: 'specs/signers.yaml' })), FailureType.PathOutsideRoots, /trust\.allowedSigners: .* outside the spec root/);
});

test('a JSON spec with a syntax error is refused without echoing the file', async () => {
  await fs.writeFile(path.join(root, 'specs', 'broken.json'), '{"service": "SECRET-CONTENT-XYZ" oops}');
  const err = await plan(input({ spec: 'specs/broken.json' })).then(
    () => assert.fail('accepted'),
    (e: Error) => e,
  );
  assert.match(err.message, /not valid JSON: syntax error at character \d+/);
  assert.doesNotMatch(err.message, /SECRET|oops/);
});

test('production (signed gate): an unsigned request, a request signed by another key, and a stale one are refused; a signed one plans', async () => {
  const prod = input({ environment: 'production' });
  const id = 'deploy-hello-service-production';
  await refusal(plan(prod, id), FailureType.SignatureRefused, /input\.signature: production has a signed approval gate, so the deploy request must be signed by carol/);

  const byMallory = await signDeployRequest(prod, { workflowId: id, service: 'hello-service', keyFile: keys.mallory! });
  await refusal(plan(byMallory, id), FailureType.SignatureRefused, /the request is not signed by carol/);

  const forAnotherVersion = await signDeployRequest({ ...prod, version: '2.0.0' }, { workflowId: id, service: 'hello-service', keyFile: keys.carol! });
  await refusal(plan({ ...forAnotherVersion, version: '1.1.0' }, id), FailureType.SignatureRefused, /the request is not signed by carol/);

  const signed = await signDeployRequest(prod, { workflowId: id, service: 'hello-service', keyFile: keys.carol! });
  await refusal(plan({ ...signed, requestedAt: '2020-01-01T00:00:00Z' }, id), FailureType.SignatureRefused, /input\.requestedAt: the request was signed at 2020-01-01T00:00:00Z, more than 15 minutes ago/);

  const p = await plan(signed, id);
  assert.equal(p.request?.signer, 'carol');
  assert.match(p.request?.fingerprint ?? '', /^SHA256:/);
  assert.deepEqual(p.gates.map((g) => [g.before, g.signed]), [['migrate', true]]);
  assert.deepEqual(p.intervention, { operators: ['alice', 'bob'], signed: true });
});
