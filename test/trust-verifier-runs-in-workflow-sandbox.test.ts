import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { findOrBuildTemporalCli } from '../scripts/lib/temporal-cli';
import { ensureKeys, writeAllowedSigners } from '../src/trust/keys';
import { signStatement } from '../src/trust/sign';
import { renderDecisionStatement, type DecisionStatementFields } from '../src/trust/statement';
import { syntheticSecurityKey, tempDir } from './helpers/ssh-signatures';
import type { verifyInSandbox } from './workflows/verify-in-sandbox';

// The verifier runs where the workflow will run it: in Temporal's workflow sandbox, on a real dev server.

const fields: DecisionStatementFields = {
  workflowId: 'deploy-hello-service-production',
  runId: '0198c7a1-5b2e-7c41-9a0e-2f4f3c1d9e77',
  service: 'hello-service',
  environment: 'production',
  version: '1.1.0',
  artifactSha256: 'a'.repeat(64),
  stage: 'migrate',
  decision: 'approve',
  signer: 'alice',
};

let dir: string;
let env: TestWorkflowEnvironment;

before(async () => {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  dir = await tempDir('trust-sandbox');
  const cli = await findOrBuildTemporalCli();
  env = await TestWorkflowEnvironment.createLocal({ server: { executable: { type: 'existing-path', path: cli } } });
});

after(async () => {
  await env?.teardown();
  await fs.rm(dir, { recursive: true, force: true });
});

test('the signature verifier gives the same verdicts inside the workflow sandbox, where Buffer does not exist', async () => {
  const [alice, bob] = await ensureKeys(path.join(dir, 'keys'), ['alice', 'bob']);
  const sk = syntheticSecurityKey(new Uint8Array(32).fill(1));
  const allowedSigners =
    (await writeAllowedSigners(path.join(dir, 'allowed_signers'), [
      { principal: 'alice', publicKeyLine: alice.publicKeyLine },
      { principal: 'bob', publicKeyLine: bob.publicKeyLine },
    ])) + `dana ${sk.publicKeyLine}\n`;
  const aliceSignature = await signStatement({ statement: renderDecisionStatement(fields), keyFile: alice.privateKeyFile });
  const danaFields = { ...fields, signer: 'dana' };
  const danaSignature = sk.sign({ statement: renderDecisionStatement(danaFields), namespace: 'deploy', flags: 0x01 });

  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: 'trust-sandbox',
    workflowsPath: require.resolve('./workflows/verify-in-sandbox'),
  });
  const result = await worker.runUntil(
    env.client.workflow.execute<typeof verifyInSandbox>('verifyInSandbox', {
      taskQueue: 'trust-sandbox',
      workflowId: `verify-in-sandbox-${Date.now()}`,
      args: [
        {
          allowedSigners,
          fields,
          cases: [
            { armored: aliceSignature, principal: 'alice' },
            { armored: aliceSignature, principal: 'alice', fields: { runId: '0198c7a1-5b2e-7c41-9a0e-2f4f3c1d9e78' } },
            { armored: aliceSignature, principal: 'bob' },
            { armored: danaSignature, principal: 'dana', fields: { signer: 'dana' } },
            { armored: 'not a signature', principal: 'alice' },
          ],
        },
      ],
    }),
  );

  assert.equal(result.bufferIsDefined, false, 'the workflow ran in the sandbox, which has no Buffer');
  const [valid, otherRun, otherPrincipal, securityKey, garbage] = result.verdicts;
  assert.equal(valid.ok, true, JSON.stringify(valid));
  assert.equal(valid.ok && valid.principal, 'alice');
  assert.match(valid.ok ? valid.fingerprint : '', /^SHA256:/);
  assert.deepEqual([otherRun.ok || otherRun.code, otherPrincipal.ok || otherPrincipal.code], ['bad-signature', 'principal-not-allowed']);
  assert.equal(securityKey.ok, true, JSON.stringify(securityKey));
  assert.deepEqual(securityKey.ok && securityKey.securityKey, { application: 'ssh:', userVerified: false, counter: 7 });
  assert.equal(garbage.ok || garbage.code, 'malformed');
});
