import assert from 'node:assert/strict';
import { Client, Connection, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { statusQuery } from '../../../src/workflows/definitions';
import type { DeployResult, DeployStatusView } from '../../../src/workflows/types';
import { startTestTemporal, type TestTemporal } from '../../helpers/temporal';
import { setScenario, standInActivities, type Scenario } from './stand-ins';

/**
 * The real deployRelease workflow on a real local Temporal server, with stand-in activities: the fast tier's
 * way to prove the workflow's decisions without PostgreSQL, builds or processes.
 */
export interface WorkflowEnv {
  client: Client;
  taskQueue: string;
  temporal: TestTemporal;
  /** Starts a deploy of a fresh service (so every test has its own lock) under `scenario`. */
  start(scenario?: Scenario, input?: Partial<{ spec: string; environment: string; version: string; requestedBy: string }>, workflowId?: string): Promise<WorkflowHandle>;
  /** Polls the status query until `until` holds. */
  waitFor(handle: WorkflowHandle, until: (s: DeployStatusView) => boolean, what: string): Promise<DeployStatusView>;
  /** The workflow's end: its result when it completed, the result carried by its failure otherwise. */
  outcome(handle: WorkflowHandle): Promise<{ result: DeployResult; failed: boolean }>;
  stop(): Promise<void>;
}

const WAIT_MS = 60_000;
let counter = 0;

export async function startWorkflowEnv(): Promise<WorkflowEnv> {
  const temporal = await startTestTemporal();
  const taskQueue = 'deploys-unit';
  const nativeConnection = await NativeConnection.connect({ address: temporal.address });
  const worker = await Worker.create({
    connection: nativeConnection,
    taskQueue,
    workflowsPath: require.resolve('../../../src/workflows'),
    activities: standInActivities(),
  });
  const running = worker.run();
  const connection = await Connection.connect({ address: temporal.address });
  const client = new Client({ connection });

  return {
    client,
    taskQueue,
    temporal,
    async start(scenario = {}, input = {}, workflowId) {
      const environment = input.environment ?? 'staging';
      const id = workflowId ?? `deploy-unit-${process.pid}-${++counter}-${environment}`;
      setScenario(id, scenario);
      return client.workflow.start('deployRelease', {
        taskQueue,
        workflowId: id,
        workflowIdConflictPolicy: 'FAIL',
        args: [{ spec: input.spec ?? 'stand-in.yaml', environment, version: input.version ?? '1.0.0', requestedBy: input.requestedBy ?? 'carol' }],
      });
    },
    async waitFor(handle, until, what) {
      const deadline = Date.now() + WAIT_MS;
      let last: DeployStatusView | undefined;
      while (Date.now() < deadline) {
        last = await handle.query(statusQuery).catch(() => last);
        if (last && until(last)) return last;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.fail(`${handle.workflowId}: still not ${what} after ${WAIT_MS} ms; last status ${last?.status}/${last?.stage}`);
    },
    async outcome(handle) {
      try {
        return { result: (await handle.result()) as DeployResult, failed: false };
      } catch (err) {
        if (!(err instanceof WorkflowFailedError)) throw err;
        const details = (err.cause as { details?: unknown[] } | undefined)?.details;
        return { result: (details?.[0] ?? {}) as DeployResult, failed: true };
      }
    },
    async stop() {
      worker.shutdown();
      await running.catch(() => undefined);
      await connection.close();
      await nativeConnection.close();
      await temporal.stop();
    },
  };
}
