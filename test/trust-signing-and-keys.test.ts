import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAllowedSigners } from '../src/trust/allowed-signers';
import { ensureKeys, writeAllowedSigners } from '../src/trust/keys';
import { signStatement, SigningError, type SigningErrorCode } from '../src/trust/sign';
import { verifySignedStatement } from '../src/trust/sshsig';
import { run, sshKeygenAccepts, tempDir } from './helpers/ssh-signatures';

const statement = 'deploy-orchestrator decision v1\nworkflow-id: deploy-hello-service-production\n';

let dir: string;
const agents: ChildProcess[] = [];

before(async () => {
  dir = await tempDir('trust-signing');
});

after(async () => {
  for (const agent of agents) if (agent.exitCode === null) agent.kill('SIGTERM');
  await fs.rm(dir, { recursive: true, force: true });
});

async function refusedWith(promise: Promise<unknown>, code: SigningErrorCode, message: RegExp): Promise<void> {
  await assert.rejects(promise, (err: Error) => {
    assert.ok(err instanceof SigningError, String(err));
    assert.equal(err.code, code, err.message);
    assert.match(err.message, message);
    return true;
  });
}

/** A real ssh-agent on its own socket, stopped after the file's tests. */
async function startAgent(): Promise<NodeJS.ProcessEnv> {
  const socket = path.join(await fs.mkdtemp(path.join(dir, 'agent-')), 'sock');
  const agent = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
  agents.push(agent);
  for (let i = 0; i < 200; i++) {
    if (await fs.stat(socket).then(() => true, () => false)) return { ...process.env, SSH_AUTH_SOCK: socket };
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('ssh-agent did not create its socket within 10 s');
}

/** ssh-add with the passphrase given through SSH_ASKPASS, as a desktop would. */
async function sshAdd(env: NodeJS.ProcessEnv, keyFile: string, passphrase?: string): Promise<void> {
  let addEnv = env;
  if (passphrase !== undefined) {
    const askpass = path.join(dir, 'askpass.sh');
    await fs.writeFile(askpass, `#!/bin/sh\nprintf '%s\\n' '${passphrase}'\n`, { mode: 0o700 });
    addEnv = { ...env, SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' };
  }
  const added = await run('ssh-add', [keyFile], undefined, addEnv);
  assert.equal(added.code, 0, added.stderr);
}

describe('ensureKeys', () => {
  test('creates ed25519 keys with mode 0600, the name as comment and no passphrase', async () => {
    const keyDir = path.join(dir, 'demo-keys');
    const keys = await ensureKeys(keyDir, ['alice', 'bob']);
    assert.deepEqual(keys.map((k) => [k.name, k.created]), [['alice', true], ['bob', true]]);
    for (const key of keys) {
      assert.equal((await fs.stat(key.privateKeyFile)).mode & 0o777, 0o600);
      assert.match(key.publicKeyLine, new RegExp(`^ssh-ed25519 AAAA[A-Za-z0-9+/]+=* ${key.name}$`));
      assert.equal((await fs.readFile(key.publicKeyFile, 'utf8')).trim(), key.publicKeyLine);
      // ssh-keygen -y with an empty passphrase derives the same public key: no passphrase is set
      const derived = await run('ssh-keygen', ['-y', '-P', '', '-f', key.privateKeyFile]);
      assert.equal(derived.code, 0, derived.stderr);
      assert.equal(derived.stdout.trim(), key.publicKeyLine);
    }
    assert.equal((await fs.stat(keyDir)).mode & 0o777, 0o700);
    assert.deepEqual((await fs.readdir(keyDir)).sort(), ['alice', 'alice.pub', 'bob', 'bob.pub'], 'no staging directories are left');
  });

  test('is idempotent: existing keys are kept, a lost .pub is derived again, a loose mode is tightened', async () => {
    const keyDir = path.join(dir, 'idempotent-keys');
    const [first] = await ensureKeys(keyDir, ['alice']);
    const privateBefore = await fs.readFile(first.privateKeyFile);
    await fs.rm(first.publicKeyFile);
    await fs.chmod(first.privateKeyFile, 0o644);
    const [again, carol] = await ensureKeys(keyDir, ['alice', 'carol']);
    assert.equal(again.created, false);
    assert.equal(carol.created, true);
    assert.equal(again.publicKeyLine, first.publicKeyLine);
    assert.deepEqual(await fs.readFile(again.privateKeyFile), privateBefore);
    assert.equal((await fs.stat(again.privateKeyFile)).mode & 0o777, 0o600);
  });

  test('two setups at once end with one key per name', async () => {
    const keyDir = path.join(dir, 'racing-keys');
    const [a, b] = await Promise.all([ensureKeys(keyDir, ['alice', 'bob']), ensureKeys(keyDir, ['alice', 'bob'])]);
    assert.deepEqual(a.map((k) => k.publicKeyLine), b.map((k) => k.publicKeyLine));
    for (const key of a) {
      const derived = await run('ssh-keygen', ['-y', '-P', '', '-f', key.privateKeyFile]);
      assert.equal(derived.stdout.trim(), key.publicKeyLine, 'the .pub belongs to the private key');
    }
  });

  test('refuses names that could escape the directory, creating nothing', async () => {
    const keyDir = path.join(dir, 'refused-keys');
    for (const name of ['../evil', 'a/b', '.hidden', '', 'x y']) {
      await assert.rejects(ensureKeys(keyDir, ['alice', name]), /must be a login or email/, JSON.stringify(name));
    }
    await assert.rejects(fs.stat(keyDir), { code: 'ENOENT' });
  });
});

describe('writeAllowedSigners', () => {
  test('writes one "<principal> namespaces="deploy" <type> <key>" line per approver, readable by ssh-keygen', async () => {
    const [alice, bob] = await ensureKeys(path.join(dir, 'as-keys'), ['alice', 'bob']);
    const file = path.join(dir, 'as', 'allowed_signers');
    const text = await writeAllowedSigners(file, [
      { principal: 'alice', publicKeyLine: alice.publicKeyLine },
      { principal: 'bob', publicKeyLine: bob.publicKeyLine },
    ]);
    assert.equal(await fs.readFile(file, 'utf8'), text);
    const lines = text.trim().split('\n');
    assert.match(lines[0], /^# /);
    assert.equal(lines[1], `alice namespaces="deploy" ${alice.publicKeyLine.split(' ').slice(0, 2).join(' ')}`);
    assert.equal(lines[2], `bob namespaces="deploy" ${bob.publicKeyLine.split(' ').slice(0, 2).join(' ')}`);
    assert.deepEqual(parseAllowedSigners(text).map((s) => s.principals[0]), ['alice', 'bob']);
    assert.deepEqual(await fs.readdir(path.dirname(file)), ['allowed_signers'], 'no temp file is left');

    const armored = await signStatement({ statement, keyFile: bob.privateKeyFile });
    assert.equal(await sshKeygenAccepts({ dir, allowedSigners: text, principal: 'bob', namespace: 'deploy', armored, statement }), true);
  });

  test('refuses a wildcard principal or a line that is not a public key, and leaves the old file', async () => {
    const [alice] = await ensureKeys(path.join(dir, 'as-keys'), ['alice']);
    const file = path.join(dir, 'as-refused', 'allowed_signers');
    const good = await writeAllowedSigners(file, [{ principal: 'alice', publicKeyLine: alice.publicKeyLine }]);
    await assert.rejects(writeAllowedSigners(file, [{ principal: '*', publicKeyLine: alice.publicKeyLine }]), /allowed signer 1 \(\*\): principal "\*" is a pattern/);
    await assert.rejects(writeAllowedSigners(file, [{ principal: 'bob', publicKeyLine: 'not a key' }]), /allowed signer 1 \(bob\): .*not valid base64|is not supported/);
    await assert.rejects(writeAllowedSigners(file, [{ principal: 'bob', publicKeyLine: '' }]), /publicKeyLine must be/);
    assert.equal(await fs.readFile(file, 'utf8'), good);
  });
});

describe('signStatement', () => {
  let keyDir: string;
  let alice: Awaited<ReturnType<typeof ensureKeys>>[number];
  let allowed: ReturnType<typeof parseAllowedSigners>;

  before(async () => {
    keyDir = path.join(dir, 'sign-keys');
    [alice] = await ensureKeys(keyDir, ['alice']);
    allowed = parseAllowedSigners(`alice ${alice.publicKeyLine}\n`);
  });

  const verifies = (armored: string) =>
    verifySignedStatement({ armored, statement, namespace: 'deploy', principal: 'alice', signers: allowed, verifyTimeMs: Date.now() }).ok;

  test('signs with a private key file; ssh-keygen and the verifier accept the result', async () => {
    const messages: string[] = [];
    const armored = await signStatement({ statement, keyFile: alice.privateKeyFile, onMessage: (m) => messages.push(m) });
    assert.match(armored, /^-----BEGIN SSH SIGNATURE-----\n[A-Za-z0-9+/=\n]+\n-----END SSH SIGNATURE-----\n$/);
    assert.equal(verifies(armored), true);
    assert.ok(messages.includes('Signing data on standard input'), `ssh-keygen's messages reach onMessage: ${JSON.stringify(messages)}`);
  });

  test('a missing key file, a non-key file and a key others may read are refused with the fix', async () => {
    await refusedWith(signStatement({ statement, keyFile: path.join(keyDir, 'nobody') }), 'key-missing', /does not exist\. Pass your private key/);
    const notKey = path.join(keyDir, 'notes.txt');
    await fs.writeFile(notKey, 'hello\n', { mode: 0o600 });
    await refusedWith(signStatement({ statement, keyFile: notKey }), 'key-missing', /neither an SSH private key nor a public key/);
    const loose = path.join(keyDir, 'loose');
    await fs.copyFile(alice.privateKeyFile, loose);
    await fs.chmod(loose, 0o644);
    await refusedWith(signStatement({ statement, keyFile: loose }), 'key-permissions', /mode 0644.*run chmod 600/);
  });

  test('without ssh-keygen it names the package to install', async () => {
    const emptyPath = await fs.mkdtemp(path.join(dir, 'no-tools-'));
    await refusedWith(signStatement({ statement, keyFile: alice.privateKeyFile, env: { PATH: emptyPath } }), 'ssh-keygen-missing', /apt-get install openssh-client/);
    await refusedWith(signStatement({ statement, keyFile: alice.privateKeyFile, sshKeygen: path.join(emptyPath, 'ssh-keygen') }), 'ssh-keygen-missing', /openssh-client/);
  });

  test('bad statement or namespace input is refused before ssh-keygen runs', async () => {
    await refusedWith(signStatement({ statement: '', keyFile: alice.privateKeyFile }), 'bad-input', /non-empty text/);
    await refusedWith(signStatement({ statement, keyFile: alice.privateKeyFile, namespace: 'deploy -f /etc/passwd' }), 'bad-input', /namespace/);
  });

  test('a .pub needs ssh-agent: refused without SSH_AUTH_SOCK, signed through a real agent that holds the key', async () => {
    const noAgent = { ...process.env };
    delete noAgent.SSH_AUTH_SOCK;
    await refusedWith(signStatement({ statement, keyFile: alice.publicKeyFile, env: noAgent }), 'agent-missing', /SSH_AUTH_SOCK is not set.*ssh-add/);

    const agentEnv = await startAgent();
    await refusedWith(signStatement({ statement, keyFile: alice.publicKeyFile, env: agentEnv }), 'key-not-in-agent', /not loaded in ssh-agent; run ssh-add/);
    await sshAdd(agentEnv, alice.privateKeyFile);
    // the private key is moved away: only the agent can sign now
    const pubOnly = path.join(await fs.mkdtemp(path.join(dir, 'pub-only-')), 'alice.pub');
    await fs.copyFile(alice.publicKeyFile, pubOnly);
    const armored = await signStatement({ statement, keyFile: pubOnly, env: agentEnv });
    assert.equal(verifies(armored), true);
  });

  test('a passphrase-protected key without a terminal is refused; through the agent it signs', async () => {
    const encrypted = path.join(keyDir, 'alice-encrypted');
    const made = await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'correct horse', '-C', 'alice', '-f', encrypted]);
    assert.equal(made.code, 0, made.stderr);
    const noAgent = { ...process.env };
    delete noAgent.SSH_AUTH_SOCK;
    await refusedWith(signStatement({ statement, keyFile: encrypted, env: noAgent, interactive: false }), 'key-encrypted', /protected by a passphrase .*ssh-add/);

    const agentEnv = await startAgent();
    await sshAdd(agentEnv, encrypted, 'correct horse');
    const armored = await signStatement({ statement, keyFile: `${encrypted}.pub`, env: agentEnv });
    const signers = parseAllowedSigners(`alice ${(await fs.readFile(`${encrypted}.pub`, 'utf8')).trim()}\n`);
    assert.equal(verifySignedStatement({ armored, statement, namespace: 'deploy', principal: 'alice', signers, verifyTimeMs: Date.now() }).ok, true);
  });
});
