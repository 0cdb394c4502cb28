import { frontDoorName } from '../../traffic/schema';
import type { TargetKind } from '../kind';
import { batchCount, fleetTargetSpecSchema } from './config';
import { createFleetTarget } from './target';

/** The fleet's plan: its hosts and the rollout's limits, with an absolute root and the runtime command. */
export interface FleetTargetPlan {
  type: 'fleet';
  root: string;
  hosts: Array<{ name: string; port: number }>;
  /** Hosts per batch (resolved from a count or a percentage). */
  batchSize: number;
  maxFailedHosts: number;
  hostTimeoutMs: number;
  drainTimeoutMs: number;
  command: string[];
  keepReleases: number;
  stopTimeoutMs: number;
  startTimeoutMs: number;
  frontDoor?: { name: string; port: number; healthPath: string; checkIntervalMs: number };
}

/**
 * Many hosts, each served by a host agent polling its own task queue (`deploys-host-<host>`, `npm run
 * agent`). The deploy stage rolls the release out in batches through child workflows (one per batch and
 * one per host), each host drained from the front door, deployed and probed by its agent, then put back.
 */
export const fleetKind: TargetKind<typeof fleetTargetSpecSchema, FleetTargetPlan> = {
  type: 'fleet',
  specSchema: fleetTargetSpecSchema,
  // Its front door spreads requests over hosts; blueGreen and canary run two releases on one machine.
  supportsFrontDoor: false,
  defaultHealthUrl: (t, path) => (t.frontDoor ? `http://127.0.0.1:${t.frontDoor.port}${path}` : undefined),
  toPlan: (t, ctx) => ({
    type: 'fleet',
    root: ctx.resolvePath(t.root),
    hosts: t.hosts.map((h) => ({ name: h.name, port: h.port })),
    batchSize: batchCount(t.batchSize, t.hosts.length),
    maxFailedHosts: t.maxFailedHosts,
    hostTimeoutMs: t.hostTimeoutMs,
    drainTimeoutMs: t.drainTimeoutMs,
    command: ctx.runtimeCommand,
    keepReleases: t.keepReleases,
    stopTimeoutMs: t.stopTimeoutMs,
    startTimeoutMs: t.startTimeoutMs,
    ...(t.frontDoor ? { frontDoor: { name: frontDoorName(ctx.service, ctx.environment), port: t.frontDoor.port, healthPath: ctx.healthPath, checkIntervalMs: 500 } } : {}),
  }),
  create: (p, ctx) => createFleetTarget(p, ctx.onProgress),
  describe: {
    summary: (p) =>
      `fleet: ${p.hosts.length} hosts (${p.hosts.slice(0, 3).map((h) => h.name).join(', ')}${p.hosts.length > 3 ? ', …' : ''}), batches of ${p.batchSize}, ` +
      `at most ${p.maxFailedHosts} failed host(s)${p.frontDoor ? `, front door (HAProxy) on port ${p.frontDoor.port}` : ''}`,
    deployStage: (p) =>
      `rolls the release out in batches of ${p.batchSize} host(s): each host is ${p.frontDoor ? 'drained in the front door, ' : ''}deployed by its agent (task queue \`deploys-host-<host>\`), ` +
      `probed on the host${p.frontDoor ? ', then put back in the front door' : ''}; the next batch starts only when this one passed. ` +
      `More than ${p.maxFailedHosts} failed host(s) halt the rollout and every updated host is rolled back, in reverse order, through its agent. ` +
      `A host whose agent does not answer within ${Math.round(p.hostTimeoutMs / 1000)} s fails. Each batch and each host is a child workflow of the deploy.`,
    inspectCommands: (p) => [
      `cat ${p.root}/fleet-state.json`,
      `temporal task-queue describe --task-queue deploys-host-${p.hosts[0]?.name ?? '<host>'}   # is the host's agent polling?`,
      ...(p.frontDoor ? [`node -e 'const c=require("net").connect(process.argv[1]);c.end("show servers state releases\\n");c.pipe(process.stdout)' ${p.root}/front-door/haproxy.sock`] : []),
    ],
    diskPath: (p) => p.root,
    requiresRunningCurrent: false,
    runbookSection: (p, ids) => ({
      title: 'Hosts and their agents',
      text: [
        `| host | port | agent's task queue |`,
        '|---|---|---|',
        ...p.hosts.slice(0, 20).map((h) => `| \`${h.name}\` | ${h.port} | \`deploys-host-${h.name}\` |`),
        ...(p.hosts.length > 20 ? [`| … ${p.hosts.length - 20} more | | |`] : []),
        '',
        'Every host runs a host agent: a Temporal worker on its own task queue that stages, starts, probes and rolls back',
        'releases on that host only. It needs the Temporal address and the artifact store (the registry database by default),',
        'never the orchestrator\'s files. Start one on each host (it keeps running; Ctrl-C stops it cleanly):',
      ],
      commands: [
        `npm run agent -- --host ${p.hosts[0]?.name ?? '<host>'}   # on that host; DEPLOY_AGENT_ROOT, TEMPORAL_ADDRESS, DEPLOY_DATABASE_URL from the environment`,
        `temporal task-queue describe --task-queue deploys-host-${p.hosts[0]?.name ?? '<host>'}   # a live agent shows as a poller`,
        `temporal workflow describe --workflow-id ${ids.workflowId}/batch-1`,
        `temporal workflow show --workflow-id ${ids.workflowId}/batch-1/host-${p.hosts[0]?.name ?? '<host>'}`,
      ],
      after: [
        `\`deployctl status\` shows a host table (updated/total, failed, each host's batch and status). Each batch is the child`,
        `workflow \`${ids.workflowId}/batch-<n>\` and each host \`…/batch-<n>/host-<host>\`: in the Web UI, open the deploy and`,
        'follow its children.',
        '',
        `**A host failed.** Its row says why. An agent that does not answer within ${Math.round(p.hostTimeoutMs / 1000)} s fails its host; more than`,
        `${p.maxFailedHosts} failed host(s) halt the rollout, and a rollout that ends with any failed host is rolled back: the deploy never`,
        'reports `succeeded` unless every host runs the release. Start the agent again (it picks up where it was: every host',
        'operation is idempotent) and deploy again.',
        '',
        '**The deploy waits in `needs_intervention` naming hosts that could not be rolled back** (their agents are down):',
        'start those agents and send `intervene` with `retry` (only those hosts are tried again), or `skip` to leave them as',
        'they are and repair them by hand (see [needs_intervention](#needs_intervention)).',
        '',
        '`deployctl stop` and `undeploy` are not available for a fleet: stop the service on each host by hand.',
      ],
    }),
  },
};

export { fleetTargetSpecSchema, batchCount, FRONT_DOOR_MAX_HOSTS } from './config';
export { ensureFleetFrontDoor, fleetFrontDoor } from './target';
export { readFleetState, recordFleetHosts, type FleetHostEntry } from './state';
