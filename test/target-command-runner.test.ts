import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { createCommandTarget } from '../src/targets';
import { runCommand } from '../src/targets/command/command-runner';

// Target commands are started by the worker's command runner, a small helper process, so that forking a
// large worker never blocks its event loop. Real processes throughout: the helper, sh, sleep.

let work: string;
before(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'command-runner-'));
});
after(async () => {
  await fs.rm(work, { recursive: true, force: true });
});

const options = () => ({ cwd: work, timeoutMs: 30_000, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, secrets: { TOKEN: 's3cr3t' } });

/** The pid of the process that started the command: the command runner, as the command sees it. */
async function starterPid(): Promise<number> {
  const r = await runCommand(['sh', '-c', 'echo $PPID'], options());
  assert.equal(r.record.exitCode, 0, r.record.output);
  return Number(r.stdout.trim());
}

test('commands are started by the command runner process, not by the worker, with output, exit code and redaction as before', async () => {
  const runnerPid = await starterPid();
  assert.notEqual(runnerPid, process.pid, 'the test process (the worker) started the command itself');
  const cmdline = await fs.readFile(`/proc/${runnerPid}/cmdline`, 'utf8');
  assert.match(cmdline, /runner-process\.(ts|js)/, `the starter is the command runner: ${cmdline.replace(/\0/g, ' ')}`);
  assert.equal(await starterPid(), runnerPid, 'one runner serves every command');

  const r = await runCommand(['sh', '-c', 'echo "token s3cr3t"; echo oops >&2; exit 3'], options());
  assert.equal(r.record.exitCode, 3);
  assert.equal(r.stdout, 'token s3cr3t\n', "stdout is the command's own (a current command's answer)");
  assert.match(r.record.output, /token \[redacted:TOKEN\]/);
  assert.doesNotMatch(r.record.output, /s3cr3t/);
  assert.match(r.record.output, /oops/);

  const missing = await runCommand(['no-such-program-here'], options());
  assert.equal(missing.record.exitCode, null);
  assert.equal(missing.startError, 'ENOENT');

  const slow = await runCommand(['sleep', '10'], { ...options(), timeoutMs: 300 });
  assert.equal(slow.timedOut, true);
  assert.equal(slow.record.exitCode, null);
});

test('a command runner that dies mid-command: the command is reported lost (a retryable failure for the target), and the next command gets a new runner', async () => {
  const first = await starterPid();
  const pidFile = path.join(work, 'sleeper.pid');
  const running = runCommand(['sh', '-c', `echo $$ > ${pidFile}; exec sleep 30`], options());
  let sleeper = 0;
  for (let i = 0; i < 100 && !sleeper; i++) {
    sleeper = Number((await fs.readFile(pidFile, 'utf8').catch(() => '')).trim());
    if (!sleeper) await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(sleeper > 0, 'the command started');
  process.kill(first, 'SIGKILL');
  const r = await running;
  process.kill(sleeper, 'SIGKILL');
  assert.equal(r.record.exitCode, null);
  assert.match(r.lost ?? '', /command runner process ended \(SIGKILL\) before the command reported back/);

  const second = await starterPid();
  assert.notEqual(second, first, 'a new command runner took over');

  // Through a target: a lost command is retryable (it may or may not have run), unlike a command that failed.
  const pidFile2 = path.join(work, 'current.pid');
  const target = createCommandTarget({
    deploy: ['true'],
    current: ['sh', '-c', `echo $$ > ${pidFile2}; exec sleep 30`],
    rollback: ['true'],
    timeoutMs: 30_000,
    workDir: path.join(work, 'target'),
    service: 'hello-service',
    environment: 'staging',
  } as Parameters<typeof createCommandTarget>[0]);
  const status = target.status();
  let currentPid = 0;
  for (let i = 0; i < 100 && !currentPid; i++) {
    currentPid = Number((await fs.readFile(pidFile2, 'utf8').catch(() => '')).trim());
    if (!currentPid) await new Promise((r) => setTimeout(r, 50));
  }
  process.kill(second, 'SIGKILL');
  const err = await status.then(
    () => assert.fail('status() succeeded although its command was lost'),
    (e: unknown) => e,
  );
  process.kill(currentPid, 'SIGKILL');
  assert.ok(err instanceof ApplicationFailure, String(err));
  assert.equal(err.type, 'CommandRunnerLost');
  assert.equal(err.nonRetryable, false);
  assert.match(err.message, /target\.current command .* did not report back/);
});
