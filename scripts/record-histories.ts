/**
 * Records the histories that test/unit/replay.test.ts replays: one run of each main scenario of deployRelease on
 * a world of its own (dev server, PostgreSQL databases, data dir), exported with
 * `temporal workflow show --output json` into test/fixtures/histories/<scenario>.json.
 *
 *   npx tsx scripts/record-histories.ts              record every scenario
 *   npx tsx scripts/record-histories.ts rollback     only these scenarios
 *
 * Record after a deliberate workflow change, never to silence a replay failure (see CONTRIBUTING.md).
 * A history that contains a runtime config value is refused: secrets never enter history, and the fixtures
 * are committed.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { parseConfigSource } from '../src/runtime-config';
import { startUndeploy } from '../src/client/undeploys';
import { approvalUpdate, approveSignal, interveneSignal, promoteSignal } from '../src/workflows/definitions';
import { startDeployWorld, type DeployWorld } from '../test/helpers/deploy-world';
import { STAGE_WAIT_MS, patientHealth, releaseDirOf, temporalCli } from '../test/helpers/workflow-probes';
import { formatDuration, info, step } from './lib/log';

const OUT_DIR = path.resolve(__dirname, '../test/fixtures/histories');
const gateBeforeValidate = { before: 'validate', approvers: ['alice', 'bob'], quorum: 1, requesterMayApprove: false, timeoutMinutes: 60, onTimeout: 'reject' };

interface Scenario {
  name: string;
  expect: string;
  run(world: DeployWorld): Promise<WorkflowHandle>;
}

async function setStagingSpec(world: DeployWorld, o: { gates?: unknown[]; health?: unknown }): Promise<void> {
  await world.updateSpec((spec) => {
    if (o.gates) spec.environments.staging.gates = o.gates;
    else delete spec.environments.staging.gates;
    if (o.health) spec.environments.staging.health = o.health;
    else delete spec.environments.staging.health;
  });
}

// Run in this order: each scenario leaves staging or production where the next one expects it.
const SCENARIOS: Scenario[] = [
  {
    name: 'success',
    expect: 'succeeded',
    run: async (world) => world.deploy({ environment: 'staging', version: '1.0.0', requestedBy: 'carol' }),
  },
  {
    name: 'rollback',
    expect: 'rolled_back',
    run: async (world) => world.deploy({ environment: 'staging', version: '2.0.0', requestedBy: 'carol' }),
  },
  {
    name: 'approved',
    expect: 'succeeded',
    run: async (world) => {
      const handle = await world.deploy({ environment: 'production', version: '1.0.0', requestedBy: 'carol' });
      await world.waitForStatus(handle, (s) => s.status === 'awaiting_approval', STAGE_WAIT_MS);
      await handle.signal(approveSignal, { by: 'mallory' }); // refused: not an approver
      await handle.signal(approveSignal, { by: 'alice' }); // refused: not signed
      await world.waitForStatus(handle, (s) => s.timeline.filter((e) => e.kind === 'signal_refused').length === 2, STAGE_WAIT_MS);
      await world.approve(handle, 'alice', 'recorded for replay');
      return handle;
    },
  },
  {
    name: 'rejection',
    expect: 'rejected',
    run: async (world) => {
      const handle = await world.deploy({ environment: 'production', version: '1.1.0', requestedBy: 'carol' });
      await world.waitForStatus(handle, (s) => s.status === 'awaiting_approval', STAGE_WAIT_MS);
      await handle.executeUpdate(approvalUpdate, { args: [{ decision: 'reject', by: 'bob', comment: 'change freeze', signature: await world.sign(handle, 'reject', 'bob') }] });
      return handle;
    },
  },
  {
    name: 'intervention',
    expect: 'rolled_back',
    run: async (world) => {
      await setStagingSpec(world, { gates: [gateBeforeValidate] });
      const handle = await world.deploy({ environment: 'staging', version: '2.0.0', requestedBy: 'carol' });
      await world.waitForStatus(handle, (s) => s.status === 'awaiting_approval' && s.stage === 'validate', STAGE_WAIT_MS);
      // The rollback target disappears, so rollbackDeploy fails and the deploy waits for an operator.
      const previousDir = await releaseDirOf(world, 'staging', '1.0.0');
      const heldAway = path.join(world.dataDir, 'held-away');
      await fs.rename(previousDir, heldAway);
      await world.approve(handle, 'alice');
      await world.waitForStatus(handle, (s) => s.status === 'needs_intervention', STAGE_WAIT_MS);
      await fs.rename(heldAway, previousDir);
      await handle.signal(interveneSignal, { by: 'alice', action: 'retry', comment: 'release directory restored', signature: await world.sign(handle, 'intervene:retry', 'alice') });
      await world.outcome(handle);
      await setStagingSpec(world, {});
      return handle;
    },
  },
  {
    name: 'cancellation',
    expect: 'cancelled',
    run: async (world) => {
      await setStagingSpec(world, { health: { consecutiveSuccesses: 60, windowMs: 40_000 } });
      const handle = await world.deploy({ environment: 'staging', version: '1.1.0', requestedBy: 'carol' });
      await world.waitForStatus(handle, (s) => s.stage === 'validate', STAGE_WAIT_MS);
      await handle.cancel();
      await world.outcome(handle);
      await setStagingSpec(world, {});
      return handle;
    },
  },
  {
    // Staging as a canary paused for a signed promote: every traffic activity, the pause and the promote signal.
    name: 'canary',
    expect: 'succeeded',
    run: async (world) => {
      await world.updateSpec((spec) => {
        spec.environments.staging.strategy = {
          type: 'canary',
          steps: [{ setWeight: 25 }, { analysis: {} }, { pause: {} }, { setWeight: 50 }, { analysis: { against: 'frontDoor' } }],
          promoters: ['alice'],
          scaleDownDelaySeconds: 1,
        };
      });
      const handle = await world.deploy({ environment: 'staging', version: '1.1.0', requestedBy: 'carol' });
      await world.waitForStatus(handle, (s) => s.pendingPromotion !== undefined, STAGE_WAIT_MS);
      await handle.signal(promoteSignal, { by: 'alice', comment: 'recorded for replay', signature: await world.sign(handle, 'promote', 'alice') });
      return handle;
    },
  },
  {
    // The known-bad release as a canary: its analysis fails at the first weight and the saga switches back.
    name: 'canary-rollback',
    expect: 'rolled_back',
    run: async (world) => world.deploy({ environment: 'staging', version: '2.0.0', requestedBy: 'carol' }),
  },
  {
    // The fleet: six host agents, three batches of two, each batch and host a child workflow.
    name: 'fleet',
    expect: 'succeeded',
    run: async (world) => {
      for (const host of (world.spec.environments.fleet.target.hosts as Array<{ name: string }>).map((h) => h.name)) await world.spawnAgents([host]);
      return world.deploy({ environment: 'fleet', version: '1.0.0', requestedBy: 'carol' });
    },
  },
  {
    // The known-bad release on the fleet: its first batch fails, the rollout halts, both hosts are rolled back.
    name: 'fleet-rollback',
    expect: 'rolled_back',
    run: async (world) => world.deploy({ environment: 'fleet', version: '2.0.0', requestedBy: 'carol' }),
  },
  {
    // undeployService, not deployRelease: stop staging's process, remove current, nothing live.
    name: 'undeploy',
    expect: 'succeeded',
    run: async (world) =>
      startUndeploy(world.client, { spec: world.specPath, environment: 'staging', action: 'undeploy', requestedBy: 'carol', reason: 'recorded for replay' }, { taskQueue: 'deploys' }),
  },
];

/** Every runtime config value of the world's environments that is long enough to be recognised. */
async function secretValues(world: DeployWorld): Promise<Array<{ name: string; value: string }>> {
  const found: Array<{ name: string; value: string }> = [];
  for (const [env, file] of Object.entries(world.example.envFiles)) {
    const values = parseConfigSource(await fs.readFile(file, 'utf8'), file);
    for (const [name, value] of Object.entries(values)) if (value.length >= 8) found.push({ name: `${env} ${name}`, value });
  }
  if (!found.some((s) => s.name.endsWith('HELLO_API_TOKEN'))) throw new Error('the example config has no HELLO_API_TOKEN: the secret check would prove nothing');
  return found;
}

async function main(): Promise<void> {
  // `--as <generation>` writes <scenario>-<generation>.json: histories of a new code path next to the old
  // ones, which stay (they stand for deploys still running on older code).
  const argv = process.argv.slice(2);
  const asIndex = argv.indexOf('--as');
  const generation = asIndex >= 0 ? argv.splice(asIndex, 2)[1] : undefined;
  if (asIndex >= 0 && !/^[a-z0-9-]{1,32}$/.test(generation ?? '')) throw new Error('--as needs a generation name: lowercase letters, digits and dashes');
  const only = argv;
  const unknown = only.filter((n) => !SCENARIOS.some((s) => s.name === n));
  if (unknown.length > 0) throw new Error(`unknown scenario(s): ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  const started = Date.now();
  const { value: world } = await step('world: dev server, databases, example service, worker', async () => {
    const w = await startDeployWorld({ specOverrides: patientHealth });
    await w.startWorker();
    return w;
  });
  try {
    const secrets = await secretValues(world);
    await fs.mkdir(OUT_DIR, { recursive: true });
    // Scenarios depend on their predecessors' state, so all run; only the selected ones are written.
    for (const scenario of SCENARIOS) {
      await step(`scenario ${scenario.name} (expect ${scenario.expect})`, async () => {
        const handle = await scenario.run(world);
        const { status } = await world.outcome(handle);
        if (status !== scenario.expect) throw new Error(`scenario ${scenario.name} ended ${status}, expected ${scenario.expect}; nothing written`);
        if (only.length > 0 && !only.includes(scenario.name)) return;
        const runId = (await handle.describe()).runId;
        const shown = await temporalCli(world, ['workflow', 'show', '--workflow-id', handle.workflowId, '--run-id', runId, '--output', 'json']);
        if (shown.code !== 0) throw new Error(`temporal workflow show failed: ${shown.stderr}`);
        const leaked = secrets.filter((s) => shown.stdout.includes(s.value));
        if (leaked.length > 0) {
          throw new Error(`the ${scenario.name} history contains the value of ${leaked.map((s) => s.name).join(', ')}; refusing to write it. Find where the value enters history and pass its name instead.`);
        }
        JSON.parse(shown.stdout); // a truncated export must not become a fixture
        const file = path.join(OUT_DIR, `${scenario.name}${generation ? `-${generation}` : ''}.json`);
        await fs.writeFile(file, shown.stdout.endsWith('\n') ? shown.stdout : `${shown.stdout}\n`);
        info(`wrote ${path.relative(process.cwd(), file)} (${shown.stdout.length} bytes)`);
      });
    }
  } finally {
    await world.cleanup();
  }
  info(`recorded in ${formatDuration(Date.now() - started)}`);
}

main().catch((err) => {
  process.stderr.write(`record-histories: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
