import { promises as fs } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../src/errors';
import { createCommandTarget, releaseIdFor, type CommandRecord, type CommandTargetConfig, type ReleaseToDeploy } from '../src/targets';
import { substitutePlaceholders } from '../src/targets/command/placeholders';
import { FAKE_PLATFORM, makeTempDir } from './fixtures/targets/harness';

const node = process.execPath;
const SHA_A = 'a'.repeat(64);
const SHA_B = 'b'.repeat(64);
let work: string;

before(async () => {
  work = await makeTempDir('command-target');
});

after(async () => {
  await fs.rm(work, { recursive: true, force: true });
});

async function newWorkDir(): Promise<string> {
  return fs.mkdtemp(path.join(work, 'wd-'));
}

function release(version: string, sha256: string, artifactPath = '/artifacts/hello.tar.gz'): ReleaseToDeploy {
  return { service: 'hello-service', environment: 'staging', version, sha256, artifactPath };
}

/** A platform whose live release is ./live.txt in the work dir, driven like kubectl would be. */
function platformConfig(workDir: string, extra: Partial<CommandTargetConfig> = {}): CommandTargetConfig {
  return {
    deploy: [node, FAKE_PLATFORM, 'deploy', '{version}', '{sha256}'],
    activate: [node, FAKE_PLATFORM, 'activate'],
    current: [node, FAKE_PLATFORM, 'current'],
    rollback: [node, FAKE_PLATFORM, 'rollback', '{version}', '{sha256}', '{previousVersion}'],
    timeoutMs: 30_000,
    workDir,
    ...extra,
  };
}

function refusedWith(type: string, pattern: RegExp, check?: (err: ApplicationFailure) => void) {
  return (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure, String(err));
    assert.equal(err.type, type);
    assert.equal(err.nonRetryable, true);
    assert.match(err.message, pattern);
    check?.(err);
    return true;
  };
}

async function exists(p: string): Promise<boolean> {
  return fs.access(p).then(() => true, () => false);
}

test('placeholder values reach the command as single literal arguments and no shell runs them', async () => {
  const workDir = await newWorkDir();
  const out = path.join(workDir, 'argv.json');
  const hostile = `${workDir}/x;touch ${workDir}/pwned-semicolon $(touch ${workDir}/pwned-subst) \`touch ${workDir}/pwned-tick\`.tar.gz`;
  const target = createCommandTarget(
    platformConfig(workDir, {
      deploy: [node, FAKE_PLATFORM, 'record', out, '{artifact}', 'image=hello:{version}', '$(touch {service})', '{releaseId}'],
      activate: undefined,
    }),
  );
  const outcome = await target.deploy(release('1.0.0', SHA_A, hostile), {});
  assert.deepEqual(JSON.parse(await fs.readFile(out, 'utf8')), [
    hostile,
    'image=hello:1.0.0',
    '$(touch hello-service)',
    releaseIdFor('1.0.0', SHA_A),
  ]);
  for (const name of ['pwned-semicolon', 'pwned-subst', 'pwned-tick', 'hello-service']) {
    assert.equal(await exists(path.join(workDir, name)), false, `${name} must not have been created`);
  }
  assert.equal(outcome.commands!.at(-1)!.argv[4], hostile);

  // Substitution itself never splits or interprets a value.
  assert.deepEqual(substitutePlaceholders(['--version={version}', '{version}'], { version: '1.0.0;touch /tmp/x' }), [
    '--version=1.0.0;touch /tmp/x',
    '1.0.0;touch /tmp/x',
  ]);
  // Such a version never gets that far: it is refused before any command runs.
  await assert.rejects(
    target.deploy(release('1.0.0;touch /tmp/x', SHA_A), {}),
    refusedWith(FailureType.InvalidInput, /version must be letters/),
  );
});

test('deploy runs deploy then activate, records exit codes and output, and reports the previous release', async () => {
  const workDir = await newWorkDir();
  const target = createCommandTarget(platformConfig(workDir));
  assert.equal(await target.current(), null);

  const first = await target.deploy(release('1.0.0', SHA_A), {});
  assert.equal(first.noop, false);
  assert.equal(first.previous, null);
  assert.deepEqual(
    first.commands!.map((c: CommandRecord) => [c.argv[2], c.exitCode]),
    [['current', 0], ['deploy', 0], ['activate', 0]],
  );
  assert.match(first.commands![1]!.output, /deployed 1\.0\.0/);
  assert.deepEqual(await target.current(), { releaseId: releaseIdFor('1.0.0', SHA_A), version: '1.0.0', sha256: SHA_A });

  const second = await target.deploy(release('1.1.0', SHA_B), {});
  assert.deepEqual(second.previous, { releaseId: releaseIdFor('1.0.0', SHA_A), version: '1.0.0', sha256: SHA_A });

  const repeat = await target.deploy(release('1.1.0', SHA_B), {});
  assert.equal(repeat.noop, true);
  assert.deepEqual(repeat.previous, second.previous);
  assert.deepEqual(repeat.commands!.map((c) => c.argv[2]), ['current'], 'a noop runs only the current command');
  assert.deepEqual(await target.status(), { current: await target.current(), running: true });
});

test('a failing command is refused naming the command and exit code; runtime values are redacted', async () => {
  const workDir = await newWorkDir();
  const secret = 'secret-token-9d8e7f';
  const secretNeverShown = (err: ApplicationFailure) =>
    assert.ok(!JSON.stringify({ message: err.message, details: err.details }).includes(secret), 'the secret leaked');

  // Everything on stdout, so the order is fixed and the kept tail is known exactly.
  const chatty = createCommandTarget(platformConfig(workDir, { deploy: [node, FAKE_PLATFORM, 'print', '5000', '3'] }));
  const redactedOutput = `${'x'.repeat(5000)}\nsecret is [redacted:APP_SECRET]\nEND-OF-OUTPUT\n`;
  await assert.rejects(
    chatty.deploy(release('1.0.0', SHA_A), { APP_SECRET: secret }),
    refusedWith(FailureType.TargetCommandFailed, /target\.deploy command .*print.* exited with code 3/, (err) => {
      const record = err.details![0] as CommandRecord;
      assert.equal(record.exitCode, 3);
      assert.equal(record.output, redactedOutput.slice(-2048), 'the output is kept to its last 2 KB');
      secretNeverShown(err);
    }),
  );

  // stderr is captured and redacted as well (alone, since its order relative to stdout is not fixed).
  const complaining = createCommandTarget(platformConfig(workDir, { deploy: [node, FAKE_PLATFORM, 'complain', '5'] }));
  await assert.rejects(
    complaining.deploy(release('1.0.0', SHA_A), { APP_SECRET: secret }),
    refusedWith(FailureType.TargetCommandFailed, /target\.deploy command .*complain.* exited with code 5/, (err) => {
      assert.equal((err.details![0] as CommandRecord).output, 'stderr says the secret is [redacted:APP_SECRET]\n');
      secretNeverShown(err);
    }),
  );
  assert.equal(await chatty.current(), null, 'activate never ran');
});

test('a retry after activation failed runs the commands again and still reports the first previous', async () => {
  const workDir = await newWorkDir();
  const target = createCommandTarget(platformConfig(workDir));
  await target.deploy(release('1.0.0', SHA_A), {});
  await fs.writeFile(path.join(workDir, 'fail-activate'), '');
  await assert.rejects(target.deploy(release('1.1.0', SHA_B), {}), refusedWith(FailureType.TargetCommandFailed, /target\.activate .* exited with code 4/));
  assert.equal((await target.current())?.version, '1.1.0', 'the deploy command already changed what is live');

  await fs.rm(path.join(workDir, 'fail-activate'));
  const retry = await target.deploy(release('1.1.0', SHA_B), {});
  assert.equal(retry.noop, false, 'the unfinished transition is carried out, not skipped');
  assert.equal(retry.previous?.version, '1.0.0');
  assert.deepEqual(retry.commands!.map((c) => c.argv[2]), ['current', 'deploy', 'activate']);
});

test('rollback passes the release to restore and the version it replaces; rolling back to nothing passes empty values', async () => {
  const workDir = await newWorkDir();
  const target = createCommandTarget(platformConfig(workDir));
  const first = await target.deploy(release('1.0.0', SHA_A), {});
  const second = await target.deploy(release('1.1.0', SHA_B), {});
  const back = await target.rollback(second.previous, {});
  assert.deepEqual(back.restored, second.previous);
  assert.deepEqual(JSON.parse(await fs.readFile(path.join(workDir, 'rollback-args.json'), 'utf8')), ['1.0.0', SHA_A, '1.1.0']);
  assert.deepEqual(await target.current(), { releaseId: first.releaseId, version: '1.0.0', sha256: SHA_A });

  const cleared = await target.rollback(null, {});
  assert.equal(cleared.restored, null);
  assert.deepEqual(JSON.parse(await fs.readFile(path.join(workDir, 'rollback-args.json'), 'utf8')), ['', '', '1.0.0']);
  assert.equal(await target.current(), null);
});

test('a command that outlives timeoutMs is killed and refused', async () => {
  const workDir = await newWorkDir();
  const target = createCommandTarget(platformConfig(workDir, { deploy: [node, FAKE_PLATFORM, 'hang'], timeoutMs: 300 }));
  await assert.rejects(
    target.deploy(release('1.0.0', SHA_A), {}),
    refusedWith(FailureType.TargetCommandFailed, /killed after the 300 ms timeout/, (err) => {
      assert.equal((err.details![0] as CommandRecord).exitCode, null);
    }),
  );
});

test('a missing program and malformed current output are refused with what to do', async () => {
  const workDir = await newWorkDir();
  const missing = createCommandTarget(platformConfig(workDir, { current: ['/nonexistent/kubectl', 'get'] }));
  await assert.rejects(missing.current(), refusedWith(FailureType.TargetCommandFailed, /could not be started \(ENOENT\)/));
  const chatty = createCommandTarget(platformConfig(workDir, { current: [node, '-e', 'console.log("deployment ready")'] }));
  await assert.rejects(chatty.current(), refusedWith(FailureType.TargetCommandFailed, /must print "<version> <sha256>"/));
});

test('unknown placeholders, and placeholders a command is not given, are refused at construction', () => {
  const workDir = '/srv/deploy';
  assert.throws(
    () => createCommandTarget(platformConfig(workDir, { deploy: ['kubectl', 'set', 'image', 'app={verison}'] })),
    refusedWith(FailureType.SpecInvalid, /target\.deploy\[3\] uses unknown placeholder \{verison\}/),
  );
  assert.throws(
    () => createCommandTarget(platformConfig(workDir, { current: ['cat', '{artifact}'] })),
    refusedWith(FailureType.SpecInvalid, /target\.current\[1\] uses \{artifact\}, which the current command is not given/),
  );
  assert.throws(
    () => createCommandTarget(platformConfig(workDir, { rollback: ['systemctl', 'restart', '{service}'] })),
    refusedWith(FailureType.SpecInvalid, /target\.rollback\[2\] uses \{service\}/),
  );
  // With the identity configured, {service} is available to rollback; JSON braces are left alone.
  createCommandTarget(
    platformConfig(workDir, {
      service: 'hello-service',
      rollback: ['kubectl', 'patch', 'deploy/{service}', '-p', '{"spec":{"paused":false}}'],
    }),
  );
  assert.throws(() => createCommandTarget(platformConfig('relative')), refusedWith(FailureType.SpecInvalid, /target\.workDir must be an absolute/));
});
