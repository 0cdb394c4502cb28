import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEPLOY_SEARCH_ATTRIBUTES,
  ensureTemporal,
  freePort,
  isServing,
  startDevServer,
} from '../scripts/lib/dev-server';
import { findOrBuildTemporalCli, temporalCliVersion } from '../scripts/lib/temporal-cli';
import { startTestTemporal } from './helpers/temporal';

const execFileAsync = promisify(execFile);

async function customSearchAttributes(cli: string, address: string): Promise<Record<string, string>> {
  const { stdout } = await execFileAsync(cli, ['operator', 'search-attribute', 'list', '--address', address, '-o', 'json']);
  return (JSON.parse(stdout) as { customAttributes?: Record<string, string> }).customAttributes ?? {};
}

function assertDeploySearchAttributes(attributes: Record<string, string>): void {
  for (const name of DEPLOY_SEARCH_ATTRIBUTES) {
    assert.equal(attributes[name], 'INDEXED_VALUE_TYPE_KEYWORD', `search attribute ${name} should be a Keyword`);
  }
}

let cli: string;
const tempDirs: string[] = [];

before(async () => {
  cli = await findOrBuildTemporalCli();
});

after(async () => {
  for (const dir of tempDirs) await fs.rm(dir, { recursive: true, force: true });
});

describe('Temporal CLI lookup', () => {
  test('resolves a CLI whose --version reports 1.5.x', async () => {
    const version = await temporalCliVersion(cli);
    assert.match(version.cli, /^1\.5\.\d+$/, `got "${version.raw}" from ${cli}`);
  });

  test('names what to install when neither the CLI nor Go can be found', async () => {
    const saved = { PATH: process.env.PATH, TEMPORAL_CLI: process.env.TEMPORAL_CLI, XDG_CACHE_HOME: process.env.XDG_CACHE_HOME };
    const emptyDir = await fs.mkdtemp(path.join(os.tmpdir(), 'no-tools-'));
    tempDirs.push(emptyDir);
    process.env.PATH = emptyDir;
    process.env.XDG_CACHE_HOME = emptyDir;
    delete process.env.TEMPORAL_CLI;
    try {
      await assert.rejects(findOrBuildTemporalCli({ onProgress: () => {} }), (err: Error) => {
        assert.match(err.message, /Go >= 1\.25/);
        assert.match(err.message, /go\.dev/);
        assert.match(err.message, /Temporal CLI >= 1\.5/);
        return true;
      });
    } finally {
      for (const [key, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
  });

  test('refuses a TEMPORAL_CLI that points at nothing, naming the variable', async () => {
    const saved = process.env.TEMPORAL_CLI;
    process.env.TEMPORAL_CLI = path.join(os.tmpdir(), `missing-${randomUUID()}`, 'temporal');
    try {
      await assert.rejects(findOrBuildTemporalCli(), /TEMPORAL_CLI is set to .*no executable/);
    } finally {
      if (saved === undefined) delete process.env.TEMPORAL_CLI;
      else process.env.TEMPORAL_CLI = saved;
    }
  });
});

describe('dev server', () => {
  test('starts with the six search attributes registered, and stops', async () => {
    const server = await startDevServer({ cli, headless: true });
    try {
      assert.equal(await isServing(cli, server.address), true);
      assertDeploySearchAttributes(await customSearchAttributes(cli, server.address));
    } finally {
      await server.stop();
    }
    assert.notEqual(server.process.exitCode ?? server.process.signalCode, null, 'the server process has exited');
    assert.equal(await isServing(cli, server.address), false);
  });

  test('ensureTemporal reuses a running server and registers the search attributes on it', async () => {
    // A server started by hand, without the attributes, as an operator might already have running.
    const port = await freePort();
    const address = `127.0.0.1:${port}`;
    const bare: ChildProcess = spawn(cli, ['server', 'start-dev', '--headless', '--ip', '127.0.0.1', '--port', String(port)], {
      stdio: 'ignore',
    });
    try {
      const deadline = Date.now() + 60_000;
      while (!(await isServing(cli, address))) {
        assert.ok(Date.now() < deadline, 'the hand-started server did not come up within 60 s');
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      assert.equal((await customSearchAttributes(cli, address)).DeployService, undefined);

      const ensured = await ensureTemporal({ address, cli });
      assert.equal(ensured.startedHere, false);
      assert.equal(ensured.address, address);
      assertDeploySearchAttributes(await customSearchAttributes(cli, address));

      // A second call finds them all present and changes nothing.
      await ensureTemporal({ address, cli });
      assertDeploySearchAttributes(await customSearchAttributes(cli, address));
    } finally {
      bare.kill('SIGTERM');
      await new Promise((resolve) => bare.once('exit', resolve));
    }
  });

  test('a restart on the same database file keeps a workflow started before it', async () => {
    const temporal = await startTestTemporal();
    try {
      const workflowId = `survives-restart-${randomUUID()}`;
      await execFileAsync(cli, [
        'workflow', 'start',
        '--address', temporal.address,
        '--task-queue', `unused-${randomUUID()}`,
        '--type', 'noSuchWorkflow',
        '--workflow-id', workflowId,
      ]);

      const portBefore = temporal.port;
      await temporal.restart();
      assert.equal(temporal.port, portBefore);

      const { stdout } = await execFileAsync(cli, [
        'workflow', 'describe', '--address', temporal.address, '--workflow-id', workflowId, '-o', 'json',
      ]);
      const described = JSON.parse(stdout) as { workflowExecutionInfo?: { execution?: { workflowId?: string }; status?: string } };
      assert.equal(described.workflowExecutionInfo?.execution?.workflowId, workflowId);
      assert.equal(described.workflowExecutionInfo?.status, 'WORKFLOW_EXECUTION_STATUS_RUNNING');
      assertDeploySearchAttributes(await customSearchAttributes(cli, temporal.address));
    } finally {
      await temporal.stop();
    }
  });
});
