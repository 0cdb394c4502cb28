import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { runDeployctl } from '../../src/cli/deployctl';
import type { DryRunCall } from '../../src/cli/program';
import { shellCommand } from '../../src/cli/shell';
import { defaultPerson } from '../../src/cli/validate';

/**
 * deployctl's signing options as parsed (dry run: validated, nothing read or contacted), and the quoting of
 * printed commands, checked by a real POSIX shell reading them back.
 */

const execFileAsync = promisify(execFile);
const CWD = '/srv/deploys';

async function dryRun(argv: string[], env: NodeJS.ProcessEnv = { USER: 'alice' }): Promise<{ code: number; calls: DryRunCall[]; err: string }> {
  const calls: DryRunCall[] = [];
  const err: string[] = [];
  let code = -1;
  await runDeployctl(argv, {
    io: { out: () => undefined, err: (t) => err.push(t), isTTY: false, rewrite: () => undefined },
    env,
    cwd: CWD,
    dryRun: (c) => calls.push(c),
    setExitCode: (c) => (code = c),
  });
  return { code, calls, err: err.join('\n') };
}

const request = async (argv: string[], env?: NodeJS.ProcessEnv) => {
  const r = await dryRun(argv, env);
  assert.equal(r.code, 0, `${argv.join(' ')}\n${r.err}`);
  return r.calls[0]!.request as Record<string, unknown>;
};

test('--by falls back to $USER, then to the OS user name', async () => {
  assert.equal((await request(['approve', 'hello-service', '--env', 'production'], { USER: 'bob' })).by, 'bob');
  assert.equal((await request(['approve', 'hello-service', '--env', 'production'], { LOGNAME: 'carol' })).by, 'carol');
  const osUser = os.userInfo().username;
  assert.equal((await request(['reject', 'hello-service', '--env', 'production'], {})).by, osUser);
  assert.equal((await request(['intervene', 'hello-service', '--env', 'production', '--action', 'retry'], {})).by, osUser);
  assert.equal(((await request(['deploy', 'x/deploy.yaml', '--env', 'production', '--version', '1.1.0'], {})).input as { requestedBy: string }).requestedBy, osUser);
  assert.deepEqual(defaultPerson({}, () => undefined), undefined);
  assert.deepEqual(defaultPerson({}, () => 'dana'), { name: 'dana', source: 'the OS user name' });

  const badUser = await dryRun(['approve', 'hello-service', '--env', 'production'], { USER: 'carol smith' });
  assert.equal(badUser.code, 2);
  assert.match(badUser.err, /--by: "carol smith" \(taken from \$USER\) must be a login or email.*pass --by <your login>/);
  assert.equal(badUser.calls.length, 0);
});

test('--key is resolved against the working directory, ~/ is expanded, and a path with control characters is refused', async () => {
  const argv = ['approve', 'hello-service', '--env', 'production', '--by', 'alice', '--key'];
  assert.equal((await request([...argv, 'keys/alice'])).key, path.join(CWD, 'keys/alice'));
  assert.equal((await request([...argv, '~/.ssh/id_ed25519.pub'])).key, path.join(os.homedir(), '.ssh/id_ed25519.pub'));
  assert.equal((await request(['deploy', 'x/deploy.yaml', '--env', 'production', '--version', '1.1.0', '--key', '/k/carol'])).key, '/k/carol');
  assert.equal((await request(['rollback', 'hello-service', '--env', 'production', '--spec', 'x/deploy.yaml', '--key', 'k'])).key, path.join(CWD, 'k'));
  for (const bad of ['', 'keys/al\nice', 'keys/\x1b[2Jalice']) {
    const r = await dryRun([...argv, bad]);
    assert.equal(r.code, 2, JSON.stringify(bad));
    assert.match(r.err, /--key: .* must be the path of an SSH private key, or of its \.pub when the key is in ssh-agent/);
    assert.doesNotMatch(r.err, /\x1b|\n.*alice/, 'the refused value is echoed escaped');
  }
});

test('--print prints the signal, --print-update the update; both at once is refused; deploy --print cannot --follow', async () => {
  const argv = ['approve', 'hello-service', '--env', 'production', '--by', 'alice'];
  assert.equal((await request([...argv, '--print'])).print, 'signal');
  assert.equal((await request([...argv, '--print-update'])).print, 'update');
  assert.equal((await request(argv)).print, undefined);
  const both = await dryRun([...argv, '--print', '--print-update']);
  assert.equal(both.code, 2);
  assert.match(both.err, /--print and --print-update: choose one/);
  assert.equal((await request(['intervene', 'hello-service', '--env', 'production', '--action', 'skip', '--print'])).print, true);
  const follow = await dryRun(['deploy', 'x/deploy.yaml', '--env', 'production', '--version', '1.1.0', '--print', '--follow']);
  assert.equal(follow.code, 2);
  assert.match(follow.err, /--print and --follow/);
});

test('statement: a decision at the waiting gate, or a request with --version and --spec; every bad combination names the option', async () => {
  assert.deepEqual(await request(['statement', 'hello-service', '--env', 'production', '--decision', 'approve', '--by', 'alice']), {
    kind: 'decision', service: 'hello-service', environment: 'production', by: 'alice', decision: 'approve',
  });
  assert.equal((await request(['statement', 'hello-service', '--env', 'production', '--decision', 'intervene:abort'])).decision, 'intervene:abort');
  const req = await request(['statement', 'hello-service', '--env', 'production', '--request', '--version', '1.1.0', '--by', 'carol', '--spec', 'examples/hello-service/deploy.yaml', '--at', '2026-05-01T12:00:00Z']);
  assert.deepEqual(req, {
    kind: 'request', service: 'hello-service', environment: 'production', by: 'carol', version: '1.1.0', spec: 'examples/hello-service/deploy.yaml', requestedAt: '2026-05-01T12:00:00Z',
  });
  const now = await request(['statement', 'hello-service', '--env', 'production', '--request', '--version', '1.1.0', '--spec', 'a.yaml']);
  assert.match(String(now.requestedAt), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);

  const refused: Array<[string[], RegExp]> = [
    [['--decision', 'approve; rm -rf /'], /--decision: "approve; rm -rf \/" must be one of approve, reject, intervene:retry, intervene:skip, intervene:abort/],
    [[], /--decision: required \(or --request\)/],
    [['--decision', 'approve', '--version', '1.1.0'], /--version: only with --request/],
    [['--request', '--decision', 'approve', '--version', '1', '--spec', 'a.yaml'], /--decision and --request/],
    [['--request', '--spec', 'a.yaml'], /--version: required with --request/],
    [['--request', '--version', '1.1.0'], /--spec: required with --request/],
    [['--request', '--version', '1.1.0', '--spec', 'a.txt'], /--spec: "a\.txt" must be a \.yaml/],
    [['--request', '--version', '../1', '--spec', 'a.yaml'], /--version: "\.\.\/1" must/],
    [['--request', '--version', '1.1.0', '--spec', 'a.yaml', '--at', '2026-02-30T12:00:00Z'], /--at: "2026-02-30T12:00:00Z" must be an ISO 8601 UTC time/],
    [['--request', '--version', '1.1.0', '--spec', 'a.yaml', '--at', '2026-05-01 12:00'], /--at: .* must be an ISO 8601 UTC time/],
    [['--decision', 'approve', '--by', 'alice\u202e'], /--by: "alice\\u202e" must be a login or email/],
  ];
  for (const [extra, message] of refused) {
    const r = await dryRun(['statement', 'hello-service', '--env', 'production', ...extra]);
    assert.equal(r.code, 2, `${extra.join(' ')}\n${r.err}`);
    assert.match(r.err, message, extra.join(' '));
    assert.equal(r.calls.length, 0);
  }
});

test('a printed command is read back by a POSIX shell as exactly the same words', async () => {
  const signature = '-----BEGIN SSH SIGNATURE-----\nU1NIU0lH+/=\n-----END SSH SIGNATURE-----\n';
  const argv = [
    'temporal', 'workflow', 'signal', '--address', '[::1]:7233', '--workflow-id', 'deploy-hello-service-production', '--name', 'approve',
    '--input', JSON.stringify({ by: 'alice', comment: `it's "fine" $HOME \`id\` \\ ; & | < > * ? ~ #`, signature }),
    '', 'two words', '~', '-n',
  ];
  const line = shellCommand(argv);
  assert.doesNotMatch(line, /\n/, 'one line to paste');
  const { stdout } = await execFileAsync('/bin/sh', ['-c', `printf '%s\\0' ${line}`]);
  assert.deepEqual(stdout.split('\0').slice(0, -1), argv);
});
