import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAllowedSigners, type AllowedSigner } from '../src/trust/allowed-signers';
import { ensureKeys, writeAllowedSigners, type SignerKeyFiles } from '../src/trust/keys';
import { signStatement } from '../src/trust/sign';
import { MAX_ARMORED_SIGNATURE_LENGTH, verifySignedStatement, type VerifyResult } from '../src/trust/sshsig';
import {
  renderDecisionStatement,
  renderRequestStatement,
  SIGNATURE_NAMESPACE,
  type DecisionStatementFields,
} from '../src/trust/statement';
import { armor, dearmor, rewriteSignatureBlob, run, sshKeygenAccepts, syntheticSecurityKey, tempDir } from './helpers/ssh-signatures';

// Real ssh-keygen makes the keys and signatures; `ssh-keygen -Y verify` is the reference verdict.

const decision: DecisionStatementFields = {
  workflowId: 'deploy-hello-service-production',
  runId: '0198c7a1-5b2e-7c41-9a0e-2f4f3c1d9e77',
  service: 'hello-service',
  environment: 'production',
  version: '1.1.0',
  artifactSha256: '4f5c2b7d9e0a1c3b5d7f9e1a3c5b7d9f0e2a4c6b8d0f1e3a5c7b9d1f3e5a7c9b',
  stage: 'migrate',
  decision: 'approve',
  signer: 'alice',
};
const statement = renderDecisionStatement(decision);

let dir: string;
let keys: Record<string, SignerKeyFiles>;
let rsaKey: string;
let allowedSignersText: string;
let signers: AllowedSigner[];
let aliceSignature: string;

before(async () => {
  dir = await tempDir('trust-sshsig');
  const made = await ensureKeys(path.join(dir, 'keys'), ['alice', 'bob', 'carol']);
  keys = Object.fromEntries(made.map((k) => [k.name, k]));
  rsaKey = path.join(dir, 'keys', 'rsa-user');
  const rsa = await run('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-N', '', '-C', 'rsa-user', '-f', rsaKey]);
  assert.equal(rsa.code, 0, rsa.stderr);
  // carol has a key but is not listed
  allowedSignersText = await writeAllowedSigners(path.join(dir, 'allowed_signers'), [
    { principal: 'alice', publicKeyLine: keys.alice.publicKeyLine },
    { principal: 'bob', publicKeyLine: keys.bob.publicKeyLine },
  ]);
  signers = parseAllowedSigners(allowedSignersText);
  aliceSignature = await signStatement({ statement, keyFile: keys.alice.privateKeyFile });
});

after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

function verify(overrides: { armored?: unknown; statement?: string; principal?: string; namespace?: string; signers?: AllowedSigner[] } = {}): VerifyResult {
  return verifySignedStatement({
    armored: 'armored' in overrides ? overrides.armored : aliceSignature,
    statement: overrides.statement ?? statement,
    namespace: overrides.namespace ?? SIGNATURE_NAMESPACE,
    principal: overrides.principal ?? 'alice',
    signers: overrides.signers ?? signers,
    verifyTimeMs: Date.now(),
  });
}

function assertRefused(result: VerifyResult, code: string, reason?: RegExp): void {
  assert.equal(result.ok, false, `expected a refusal (${code}), got ${JSON.stringify(result)}`);
  if (result.ok) return;
  assert.equal(result.code, code, result.reason);
  if (reason) assert.match(result.reason, reason);
}

async function fingerprintBySshKeygen(publicKeyFile: string): Promise<string> {
  const out = await run('ssh-keygen', ['-lf', publicKeyFile]);
  return out.stdout.split(' ')[1];
}

describe('a signature made with ssh-keygen -Y sign', () => {
  test('verifies for its signer, naming the key and the allowed_signers line', async () => {
    const result = verify();
    assert.equal(result.ok, true, JSON.stringify(result));
    if (!result.ok) return;
    assert.equal(result.principal, 'alice');
    assert.equal(result.keyType, 'ssh-ed25519');
    assert.equal(result.fingerprint, await fingerprintBySshKeygen(keys.alice.publicKeyFile));
    assert.equal(result.line, 2, 'line 1 of the written file is its comment');
    assert.equal(result.hashAlgorithm, 'sha512', 'ssh-keygen signs with sha512 by default');
    assert.equal(await sshKeygenAccepts({ dir, allowedSigners: allowedSignersText, principal: 'alice', namespace: 'deploy', armored: aliceSignature, statement }), true);
  });

  test('a sha256 signature (-O hashalg=sha256) verifies too', async () => {
    const signed = await run('ssh-keygen', ['-Y', 'sign', '-n', 'deploy', '-O', 'hashalg=sha256', '-f', keys.bob.privateKeyFile], renderDecisionStatement({ ...decision, signer: 'bob' }));
    assert.equal(signed.code, 0, signed.stderr);
    const result = verify({ armored: signed.stdout, statement: renderDecisionStatement({ ...decision, signer: 'bob' }), principal: 'bob' });
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.equal(result.ok && result.hashAlgorithm, 'sha256');
  });

  const changes: Array<[string, Partial<DecisionStatementFields>]> = [
    ['another run ID', { runId: '0198c7a1-5b2e-7c41-9a0e-2f4f3c1d9e78' }],
    ['another version', { version: '2.0.0' }],
    ['another decision', { decision: 'reject' }],
    ['another stage', { stage: 'deploy' }],
    ['another workflow', { workflowId: 'deploy-hello-service-staging', environment: 'staging' }],
    ['another artifact', { artifactSha256: 'f'.repeat(64) }],
    ['another service', { service: 'other-service', workflowId: 'deploy-other-service-production' }],
    ['no artifact yet', { artifactSha256: null }],
    ['intervene instead of approve', { decision: 'intervene:skip' }],
  ];
  for (const [name, change] of changes) {
    test(`does not verify against a statement with ${name}`, async () => {
      const other = renderDecisionStatement({ ...decision, ...change });
      assertRefused(verify({ statement: other }), 'bad-signature', /does not match this statement/);
      assert.equal(await sshKeygenAccepts({ dir, allowedSigners: allowedSignersText, principal: 'alice', namespace: 'deploy', armored: aliceSignature, statement: other }), false);
    });
  }

  test('a signed decision is not a signed deploy request (different first line)', () => {
    const request = renderRequestStatement({
      workflowId: decision.workflowId,
      service: decision.service,
      environment: decision.environment,
      version: decision.version,
      spec: 'examples/hello-service/deploy.yaml',
      requestedBy: 'alice',
      requestedAt: '2026-05-01T12:00:00Z',
    });
    assertRefused(verify({ statement: request }), 'bad-signature');
  });

  test('a signature for another namespace is refused, naming both namespaces', async () => {
    const gitSignature = await signStatement({ statement, keyFile: keys.alice.privateKeyFile, namespace: 'git' });
    assertRefused(verify({ armored: gitSignature }), 'wrong-namespace', /namespace "git", not "deploy"/);
  });

  test('a key that is not in allowed_signers is refused with its fingerprint', async () => {
    const carolStatement = renderDecisionStatement({ ...decision, signer: 'carol' });
    const carolSignature = await signStatement({ statement: carolStatement, keyFile: keys.carol.privateKeyFile });
    const fingerprint = await fingerprintBySshKeygen(keys.carol.publicKeyFile);
    const result = verify({ armored: carolSignature, statement: carolStatement, principal: 'carol' });
    assertRefused(result, 'key-not-allowed', /not in the allowed signers/);
    assert.ok(!result.ok && result.reason.includes(fingerprint), 'the reason names the key by its fingerprint');
  });

  test("alice's key presented as bob's is refused: the key is listed for another principal", () => {
    assertRefused(verify({ principal: 'bob' }), 'principal-not-allowed', /listed for alice, not for bob/);
  });

  test('an RSA key signature is refused as an unsupported key type', async () => {
    const rsaSignature = await signStatement({ statement, keyFile: rsaKey });
    assertRefused(verify({ armored: rsaSignature }), 'unsupported-key-type', /made with a ssh-rsa key; .*ed25519/);
  });

  test('garbage is refused as malformed, never thrown', () => {
    const garbage: unknown[] = [
      '',
      'hello',
      undefined,
      42,
      { armored: true },
      '-----BEGIN SSH SIGNATURE-----\n-----END SSH SIGNATURE-----\n',
      '-----BEGIN SSH SIGNATURE-----\n!!!!\n-----END SSH SIGNATURE-----\n',
      '-----BEGIN SSH SIGNATURE-----\nAAAA====\n-----END SSH SIGNATURE-----\n',
      '-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIGNATURE-----\n', // "SSHSIG" and nothing more
      '-----BEGIN SSH SIGNATURE-----\naGVsbG8gd29ybGQh\n-----END SSH SIGNATURE-----\n', // "hello world!"
      aliceSignature.replace('-----END SSH SIGNATURE-----', ''),
      aliceSignature.replace('-----BEGIN SSH SIGNATURE-----\n', ''),
      `${aliceSignature}trailing words`,
    ];
    for (const armored of garbage) assertRefused(verify({ armored }), 'malformed');
  });

  test('a truncated signature is refused as malformed', async () => {
    const blob = dearmor(aliceSignature);
    for (const cut of [1, 10, 40, blob.length - 20]) {
      const truncated = armor(blob.subarray(0, blob.length - cut));
      assertRefused(verify({ armored: truncated }), 'malformed', /damaged or truncated/);
      assert.equal(await sshKeygenAccepts({ dir, allowedSigners: allowedSignersText, principal: 'alice', namespace: 'deploy', armored: truncated, statement }), false);
    }
    const halfText = aliceSignature.slice(0, aliceSignature.length / 2);
    assertRefused(verify({ armored: halfText }), 'malformed');
  });

  test(`a signature longer than ${MAX_ARMORED_SIGNATURE_LENGTH} characters is refused before parsing`, () => {
    const huge = `-----BEGIN SSH SIGNATURE-----\n${'QUFB'.repeat(3000)}\n-----END SSH SIGNATURE-----\n`;
    const result = verify({ armored: huge });
    assertRefused(result, 'too-large');
    assert.ok(!result.ok && !result.reason.includes('QUFB'), 'the reason does not echo the payload');
  });

  test('CRLF line ends and surrounding whitespace (a pasted signature) still verify', () => {
    assert.equal(verify({ armored: aliceSignature.replace(/\n/g, '\r\n') }).ok, true);
    assert.equal(verify({ armored: `\n  ${aliceSignature}\n\n` }).ok, true);
  });

  test('unsupported hash algorithm, blob version and signature types are refused by name', () => {
    const sha1 = rewriteSignatureBlob(aliceSignature, (f) => (f.hashAlgorithm = Buffer.from('sha1')));
    assertRefused(verify({ armored: sha1 }), 'unsupported-hash', /"sha1"; only sha256 and sha512/);
    const v2 = rewriteSignatureBlob(aliceSignature, (f) => (f.version = 2));
    assertRefused(verify({ armored: v2 }), 'unsupported-version', /version 2/);
    const sigTypeSwap = rewriteSignatureBlob(aliceSignature, (f) => {
      const sig = f.signature;
      // string "ssh-ed25519" → string "ssh-ed25518": the signature claims another algorithm
      sig[sig.indexOf(Buffer.from('ssh-ed25519')) + 10] = '8'.charCodeAt(0);
    });
    assertRefused(verify({ armored: sigTypeSwap }), 'malformed', /signature value is of type/);
  });

  test('a hostile namespace in the blob reaches the reason only sanitized and bounded', () => {
    const hostile = rewriteSignatureBlob(aliceSignature, (f) => (f.namespace = Buffer.from(`evil\n\u202e${'x'.repeat(500)}`)));
    const result = verify({ armored: hostile });
    assertRefused(result, 'wrong-namespace');
    assert.ok(!result.ok && !/[\n\u202e]/.test(result.reason) && result.reason.length < 200, !result.ok ? result.reason : '');
  });
});

describe('security keys (sk-ssh-ed25519@openssh.com, built synthetically)', () => {
  const skKey = syntheticSecurityKey(new Uint8Array(32).fill(9));
  const skStatement = renderDecisionStatement({ ...decision, signer: 'dana' });
  let skSigners: AllowedSigner[];
  let skAllowed: string;

  before(() => {
    skAllowed = `${allowedSignersText}dana namespaces="deploy" ${skKey.publicKeyLine}\n`;
    skSigners = parseAllowedSigners(skAllowed);
  });

  test('a touched key (user-presence flag) verifies and reports the authenticator data', async () => {
    const armored = skKey.sign({ statement: skStatement, namespace: 'deploy', flags: 0x01, counter: 42 });
    const result = verify({ armored, statement: skStatement, principal: 'dana', signers: skSigners });
    assert.equal(result.ok, true, JSON.stringify(result));
    if (!result.ok) return;
    assert.equal(result.keyType, 'sk-ssh-ed25519@openssh.com');
    assert.deepEqual(result.securityKey, { application: 'ssh:', userVerified: false, counter: 42 });
    assert.equal(await sshKeygenAccepts({ dir, allowedSigners: skAllowed, principal: 'dana', namespace: 'deploy', armored, statement: skStatement }), true);
  });

  test('user verification (PIN) is reported when the flag is set', () => {
    const armored = skKey.sign({ statement: skStatement, namespace: 'deploy', flags: 0x05 });
    const result = verify({ armored, statement: skStatement, principal: 'dana', signers: skSigners });
    assert.equal(result.ok && result.securityKey?.userVerified, true, JSON.stringify(result));
  });

  test('a signature without user presence is refused (ssh-keygen -Y verify accepts it)', async () => {
    const armored = skKey.sign({ statement: skStatement, namespace: 'deploy', flags: 0x00 });
    assertRefused(verify({ armored, statement: skStatement, principal: 'dana', signers: skSigners }), 'no-user-presence', /without user presence/);
    assert.equal(await sshKeygenAccepts({ dir, allowedSigners: skAllowed, principal: 'dana', namespace: 'deploy', armored, statement: skStatement }), true);
  });

  test('a changed statement, flag or application breaks the signature', () => {
    const armored = skKey.sign({ statement: skStatement, namespace: 'deploy', flags: 0x01 });
    const other = renderDecisionStatement({ ...decision, signer: 'dana', stage: 'deploy' });
    assertRefused(verify({ armored, statement: other, principal: 'dana', signers: skSigners }), 'bad-signature');
    const flipped = rewriteSignatureBlob(armored, (f) => (f.signature[f.signature.length - 5] ^= 0x04));
    assertRefused(verify({ armored: flipped, statement: skStatement, principal: 'dana', signers: skSigners }), 'bad-signature');
    const wrongApp = skKey.sign({ statement: skStatement, namespace: 'deploy', flags: 0x01, signingApplication: 'ssh:other' });
    assertRefused(verify({ armored: wrongApp, statement: skStatement, principal: 'dana', signers: skSigners }), 'bad-signature');
  });
});

describe('agreement with ssh-keygen -Y verify', () => {
  interface Case {
    name: string;
    accept: boolean;
    armored: () => string | Promise<string>;
    statement?: string;
    principal?: string;
    namespace?: string;
    allowedSigners?: () => string;
  }
  const aliceLine = () => keys.alice.publicKeyLine.split(' ').slice(0, 2).join(' ');
  const sk = syntheticSecurityKey(new Uint8Array(32).fill(3));
  const skStatement = renderDecisionStatement({ ...decision, signer: 'erin' });

  const cases: Case[] = [
    { name: 'valid signature', accept: true, armored: () => aliceSignature },
    { name: 'sha256 signature', accept: true, armored: async () => (await run('ssh-keygen', ['-Y', 'sign', '-n', 'deploy', '-O', 'hashalg=sha256', '-f', keys.alice.privateKeyFile], statement)).stdout },
    { name: 'alice also listed under a second name', accept: true, armored: () => aliceSignature, principal: 'alice@example.com', allowedSigners: () => `alice,alice@example.com ${aliceLine()}\n` },
    { name: 'line without namespaces= (any namespace)', accept: true, armored: () => aliceSignature, allowedSigners: () => `alice ${aliceLine()}\n` },
    { name: 'valid-after in the past, valid-before in the future', accept: true, armored: () => aliceSignature, allowedSigners: () => `alice valid-after="20200101Z",valid-before="20991231235959Z" ${aliceLine()}\n` },
    { name: 'non-empty reserved field (ignored, as PROTOCOL.sshsig says)', accept: true, armored: () => rewriteSignatureBlob(aliceSignature, (f) => (f.reserved = Buffer.from('future'))) },
    { name: 'security key with user presence', accept: true, armored: () => sk.sign({ statement: skStatement, namespace: 'deploy', flags: 1 }), statement: skStatement, principal: 'erin', allowedSigners: () => `erin ${sk.publicKeyLine}\n` },
    { name: 'changed statement', accept: false, armored: () => aliceSignature, statement: renderDecisionStatement({ ...decision, version: '1.1.1' }) },
    { name: 'wrong namespace', accept: false, armored: () => aliceSignature, namespace: 'git' },
    { name: 'key not listed', accept: false, armored: () => aliceSignature, allowedSigners: () => `bob ${keys.bob.publicKeyLine}\n` },
    { name: 'key listed for another principal', accept: false, armored: () => aliceSignature, principal: 'bob' },
    { name: 'key limited to another namespace', accept: false, armored: () => aliceSignature, allowedSigners: () => `alice namespaces="git" ${aliceLine()}\n` },
    { name: 'key expired (valid-before in the past)', accept: false, armored: () => aliceSignature, allowedSigners: () => `alice valid-before="20200101Z" ${aliceLine()}\n` },
    { name: 'key not yet valid (valid-after in the future)', accept: false, armored: () => aliceSignature, allowedSigners: () => `alice valid-after="20990101Z" ${aliceLine()}\n` },
    { name: 'flipped signature bit', accept: false, armored: () => rewriteSignatureBlob(aliceSignature, (f) => (f.signature[f.signature.length - 1] ^= 1)) },
    { name: 'signature moved to another key', accept: false, armored: () => rewriteSignatureBlob(aliceSignature, (f) => (f.publicKey = publicKeyBlob(keys.bob.publicKeyLine))), principal: 'bob' },
    { name: 'truncated blob', accept: false, armored: () => armor(dearmor(aliceSignature).subarray(0, 60)) },
    { name: 'garbage', accept: false, armored: () => '-----BEGIN SSH SIGNATURE-----\nbm90IGEgc2lnbmF0dXJl\n-----END SSH SIGNATURE-----\n' },
    { name: 'security key signed for another application', accept: false, armored: () => sk.sign({ statement: skStatement, namespace: 'deploy', flags: 1, signingApplication: 'ssh:x' }), statement: skStatement, principal: 'erin', allowedSigners: () => `erin ${sk.publicKeyLine}\n` },
  ];

  for (const c of cases) {
    test(`${c.accept ? 'both accept' : 'both refuse'}: ${c.name}`, async () => {
      const armored = await c.armored();
      const allowed = c.allowedSigners?.() ?? allowedSignersText;
      const input = { statement: c.statement ?? statement, principal: c.principal ?? 'alice', namespace: c.namespace ?? 'deploy' };
      const ours = verifySignedStatement({ armored, ...input, signers: parseAllowedSigners(allowed), verifyTimeMs: Date.now() });
      const reference = await sshKeygenAccepts({ dir, allowedSigners: allowed, armored, ...input });
      assert.equal(reference, c.accept, 'ssh-keygen -Y verify');
      assert.equal(ours.ok, c.accept, JSON.stringify(ours));
    });
  }

  test('deliberately stricter: RSA keys and text after the END line, which ssh-keygen accepts', async () => {
    const rsaSignature = await signStatement({ statement, keyFile: rsaKey });
    const rsaPub = (await fs.readFile(`${rsaKey}.pub`, 'utf8')).trim();
    assert.equal(await sshKeygenAccepts({ dir, allowedSigners: `alice ${rsaPub}\n`, principal: 'alice', namespace: 'deploy', armored: rsaSignature, statement }), true);
    assertRefused(verify({ armored: rsaSignature }), 'unsupported-key-type');
    const trailing = `${aliceSignature}not part of the signature\n`;
    assert.equal(await sshKeygenAccepts({ dir, allowedSigners: allowedSignersText, principal: 'alice', namespace: 'deploy', armored: trailing, statement }), true);
    assertRefused(verify({ armored: trailing }), 'malformed');
  });
});

function publicKeyBlob(publicKeyLine: string): Buffer {
  return Buffer.from(publicKeyLine.split(' ')[1], 'base64');
}
