import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { createLocalTarget } from '../src/targets';
import { deploySpecSchema, describeIssues } from '../src/spec/schema';
import { destroyTargetRoot, freePort, makeTempDir, packRelease, waitForVersion } from './fixtures/targets/harness';

// How the port reaches a service: PORT in its environment, and {port} in runtime.command for services that
// take it as an argument (traefik/whoami's --port). Any other placeholder there is refused by the spec.
const roots: string[] = [];
after(async () => {
  for (const root of roots) await destroyTargetRoot(root, path.dirname(root));
});

test('{port} in the runtime command becomes the target port; the release answers on it', async () => {
  const work = await makeTempDir('port-placeholder');
  const release = await packRelease(work, '1.0.0');
  const root = path.join(await makeTempDir('local-root'), 'target');
  roots.push(root);
  const port = await freePort();
  // The fixture service listens on PORT; here PORT is overwritten from its argument, which must be the real port.
  const target = createLocalTarget({ root, command: [process.execPath, '-e', "process.env.PORT = process.argv[1]; require('./service.js')", '{port}'], port, keepReleases: 2, stopTimeoutMs: 3000 });
  await target.deploy(release, {});
  assert.equal((await waitForVersion(port, '1.0.0')).version, '1.0.0');
  const log = await fs.readFile(path.join(root, 'logs', `${(await target.current())!.releaseId}.log`), 'utf8');
  assert.match(log, new RegExp(`listening on ${port}`));
  await target.rollback(null, {});
  await fs.rm(work, { recursive: true, force: true });
});

test('a placeholder other than {port} in runtime.command is refused by the spec, naming the field', () => {
  const spec = { service: 'svc', source: { repository: 'repo' }, runtime: { command: ['./svc', '--listen', ':{prot}'] }, environments: { staging: { target: { type: 'local', root: 't', port: 18000 } } } };
  const parsed = deploySpecSchema.safeParse(spec);
  assert.equal(parsed.success, false);
  assert.ok(describeIssues(parsed.error!).some((i) => /^runtime\.command: may use only the \{port\} placeholder/.test(i)), describeIssues(parsed.error!).join('; '));
  assert.equal(deploySpecSchema.safeParse({ ...spec, runtime: { command: ['./svc', '--port', '{port}'] } }).success, true);
});

test('pre-checks see a stranger on the port before anything changes (preflight), and a free port passes', async () => {
  const root = path.join(await makeTempDir('local-root'), 'target');
  roots.push(root);
  const port = await freePort();
  const target = createLocalTarget({ root, command: [process.execPath, 'service.js'], port, keepReleases: 2, stopTimeoutMs: 3000 });
  assert.equal(await target.preflight!(), `port ${port} is free`);
  const stranger = net.createServer().listen(port, '127.0.0.1');
  await new Promise((r) => stranger.once('listening', r));
  try {
    await assert.rejects(target.preflight!(), new RegExp(`port ${port} is in use by a process that is not this target's release \\(pid ${process.pid}`));
    await assert.rejects(fs.stat(path.join(root, 'current')), { code: 'ENOENT' }, 'nothing was changed');
  } finally {
    stranger.close();
  }
});
