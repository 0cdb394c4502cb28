import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import {
  DEPLOY_SEARCH_ATTRIBUTES,
  DEPLOY_SEARCH_ATTRIBUTE_TYPES,
  SearchAttributeTypeError,
  ensureTemporal,
  freePort,
  isServing,
  registerSearchAttributes,
  startDevServer,
} from '../scripts/lib/dev-server';
import { findOrBuildTemporalCli, temporalCliVersion } from '../scripts/lib/temporal-cli';
import { SA, SEARCH_ATTRIBUTE_NAMES } from '../src/workflows/definitions';
import { startTestTemporal } from './helpers/temporal';
import type { upsertHostCounts } from './workflows/upsert-host-counts';

const execFileAsync = promisify(execFile);

async function customSearchAttributes(cli: string, address: string): Promise<Record<string, string>> {
  const { stdout } = await execFileAsync(cli, ['operator', 'search-attribute', 'list', '--address', address, '-o', 'json']);
  return (JSON.parse(stdout) as { customAttributes?: Record<string, string> }).customAttributes ?? {};
}

/** What `temporal operator search-attribute list -o json` reports for each type. */
const LISTED_TYPE = { Keyword: 'INDEXED_VALUE_TYPE_KEYWORD', Int: 'INDEXED_VALUE_TYPE_INT' } as const;

function assertDeploySearchAttributes(attributes: Record<string, string>): void {
  for (const name of DEPLOY_SEARCH_ATTRIBUTES) {
    const type = DEPLOY_SEARCH_ATTRIBUTE_TYPES[name];
    assert.equal(attributes[name], LISTED_TYPE[type], `search attribute ${name} should be ${type}`);
  }
}

let cli: string;
const tempDirs: string[] = [];

before(async () => {
  Runtime.install({ logger: new DefaultLogger('WARN') });
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

describe('the contract\'s search attributes', () => {
  test('six Keyword (a deploy\'s identity and progress) and three Int (a fleet deploy\'s host counts)', () => {
    assert.deepEqual(DEPLOY_SEARCH_ATTRIBUTE_TYPES, {
      DeployService: 'Keyword',
      DeployEnvironment: 'Keyword',
      DeployVersion: 'Keyword',
      DeployStage: 'Keyword',
      DeployStatus: 'Keyword',
      DeployRequestedBy: 'Keyword',
      DeployHostsTotal: 'Int',
      DeployHostsUpdated: 'Int',
      DeployHostsFailed: 'Int',
    });
  });

  test('the workflow\'s keys name the same attributes with the same types', () => {
    assert.deepEqual([...SEARCH_ATTRIBUTE_NAMES], [...DEPLOY_SEARCH_ATTRIBUTES]);
    const keys = Object.fromEntries(Object.values(SA).map((key) => [key.name, key.type]));
    assert.deepEqual(keys, Object.fromEntries(DEPLOY_SEARCH_ATTRIBUTES.map((name) => [name, DEPLOY_SEARCH_ATTRIBUTE_TYPES[name].toUpperCase()])));
  });
});

describe('dev server', () => {
  test('starts with the nine search attributes registered, each with its type, and stops', async () => {
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

      // A namespace where one of the counts was registered as Keyword: the workflow could not upsert a number.
      const namespace = `mistyped-${process.pid}`;
      await execFileAsync(cli, ['operator', 'namespace', 'create', '--address', address, '--namespace', namespace]);
      const mistyped = ['operator', 'search-attribute', 'create', '--address', address, '--namespace', namespace];
      // A new namespace takes a moment to reach every service.
      for (let attempt = 1; ; attempt++) {
        try {
          await execFileAsync(cli, [...mistyped, '--name', 'DeployHostsFailed', '--type', 'Keyword']);
          break;
        } catch (err) {
          if (attempt >= 30) throw err;
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
      }
      await assert.rejects(registerSearchAttributes(address, namespace), (err: Error) => {
        assert.ok(err instanceof SearchAttributeTypeError, String(err));
        assert.match(err.message, /DeployHostsFailed exists in namespace mistyped-\d+ .* with type Keyword, but the deploy workflow needs Int/);
        assert.match(err.message, /temporal operator search-attribute remove --name DeployHostsFailed/);
        return true;
      });
    } finally {
      bare.kill('SIGTERM');
      await new Promise((resolve) => bare.once('exit', resolve));
    }
  });

  test('a workflow upserts the host counts as numbers, and a list query compares them', async () => {
    const server = await startDevServer({ cli, headless: true });
    const connection = await Connection.connect({ address: server.address });
    const workerConnection = await NativeConnection.connect({ address: server.address });
    try {
      const client = new Client({ connection });
      const taskQueue = `upsert-host-counts-${randomUUID()}`;
      const worker = await Worker.create({
        connection: workerConnection,
        taskQueue,
        workflowsPath: require.resolve('./workflows/upsert-host-counts'),
      });
      const runs = [
        { workflowId: `hosts-ok-${randomUUID()}`, counts: { total: 6, updated: 6, failed: 0 } },
        { workflowId: `hosts-failed-${randomUUID()}`, counts: { total: 6, updated: 3, failed: 2 } },
      ];
      await worker.runUntil(async () => {
        for (const run of runs) {
          await client.workflow.execute<typeof upsertHostCounts>('upsertHostCounts', { taskQueue, workflowId: run.workflowId, args: [run.counts] });
        }
      });

      for (const run of runs) {
        const described = await client.workflow.getHandle(run.workflowId).describe();
        assert.equal(described.status.name, 'COMPLETED');
        const attrs = described.typedSearchAttributes;
        assert.deepEqual(
          { total: attrs.get(SA.hostsTotal), updated: attrs.get(SA.hostsUpdated), failed: attrs.get(SA.hostsFailed), status: attrs.get(SA.status) },
          { ...run.counts, status: 'running' },
        );
      }

      // The queries the docs give operators, through the CLI; visibility trails the upserts by a moment.
      const list = async (query: string): Promise<string[]> => {
        const { stdout } = await execFileAsync(cli, [
          'workflow', 'list', '--address', server.address, '--query', `${query} AND TaskQueue = "${taskQueue}"`, '-o', 'json',
        ]);
        return (JSON.parse(stdout) as Array<{ execution: { workflowId: string } }>).map((e) => e.execution.workflowId).sort();
      };
      const deadline = Date.now() + 30_000;
      while ((await list('DeployHostsTotal = 6')).length < runs.length) {
        assert.ok(Date.now() < deadline, 'both workflows should be listed by DeployHostsTotal = 6 within 30 s');
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      assert.deepEqual(await list('DeployHostsFailed > 0'), [runs[1].workflowId]);
      assert.deepEqual(await list('DeployHostsUpdated < 6'), [runs[1].workflowId]);
    } finally {
      await connection.close();
      await workerConnection.close();
      await server.stop();
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
