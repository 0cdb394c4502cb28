import type { Command } from 'commander';
import type { CliContext } from '../context';
import { attr, describeDeploy, fetchOutcome, isRunning, queryStatus } from '../deploy-state';
import { ExitCode } from '../exit-codes';
import { formatDuration, formatTime, oneLine, refusedDecisions, renderResult, renderStatusView } from '../format';
import { bindAction, type CommandSpec, type ProgramOptions } from '../program';
import { checkEnvironment, checkService } from '../validate';

interface StatusRequest {
  service: string;
  environment: string;
}

/**
 * A running deploy is shown from its `status` query; a finished one from its result in history (which
 * needs no worker), so `status` always answers "how did the last deploy end".
 */
async function status(ctx: CliContext, r: StatusRequest): Promise<number> {
  const { handle, description: d } = await describeDeploy(ctx, r.service, r.environment);
  const running = isRunning(d);
  const uiUrl = ctx.uiLink(d.workflowId, d.runId);
  const view = running ? await queryStatus(ctx, handle) : undefined;
  const pollers = running ? await countPollers(ctx, d.taskQueue) : undefined;
  const outcome = running ? undefined : await fetchOutcome(handle);
  const header = {
    workflowId: d.workflowId,
    runId: d.runId,
    running,
    startTime: d.startTime,
    closeTime: d.closeTime ?? null,
    searchAttributes: { status: attr(d, 'status'), stage: attr(d, 'stage'), version: attr(d, 'version'), requestedBy: attr(d, 'requestedBy') },
    uiUrl,
  };
  if (ctx.json) {
    const refused = refusedDecisions(view?.timeline ?? outcome?.result?.timeline ?? []);
    ctx.io.out(JSON.stringify({ ...header, taskQueue: d.taskQueue, pollers: pollers ?? null, status: view ?? null, outcome: outcome ?? null, refusedDecisions: { count: refused.length, last: refused.slice(-3) } }));
    return ExitCode.ok;
  }
  const took = formatDuration((d.closeTime ?? new Date()).getTime() - d.startTime.getTime());
  ctx.io.out(`${d.workflowId} (run ${d.runId})`);
  ctx.io.out(`started ${formatTime(d.startTime)}, ${running ? `running for ${took}` : `closed ${formatTime(d.closeTime)} after ${took}`}`);
  if (running && pollers === 0) {
    // Seen in practice: a deploy started on a mistyped task queue holds the lock, and cancel never completes.
    for (const line of noWorkerLines(d.workflowId, d.taskQueue)) ctx.io.out(line);
  }
  if (running) {
    if (view) {
      for (const line of renderStatusView(view)) ctx.io.out(line);
    } else {
      ctx.io.out(
        `${oneLine(attr(d, 'status') ?? 'running', 40)} at stage ${oneLine(attr(d, 'stage') ?? '?', 64)} (from search attributes: no worker answered the status query — is one polling task queue "${ctx.config.DEPLOY_TASK_QUEUE}"?)`,
      );
    }
  } else if (outcome) {
    ctx.io.out('no deploy is running; the last one:');
    if (outcome.result) for (const line of renderResult(outcome.result, { timelineTail: 6 })) ctx.io.out(line);
    else ctx.io.out(`${oneLine(attr(d, 'version') ?? '?', 64)}: ${oneLine(outcome.outcome, 40)}${outcome.reason ? ` — ${oneLine(outcome.reason)}` : ''}`);
  }
  ctx.io.out(`Web UI: ${uiUrl}`);
  return ExitCode.ok;
}

/** Workflow pollers of the deploy's task queue; undefined when the server cannot say. */
async function countPollers(ctx: CliContext, taskQueue: string): Promise<number | undefined> {
  try {
    const client = await ctx.temporal();
    const r = await ctx.withDeadline(5_000, () =>
      client.workflowService.describeTaskQueue({ namespace: ctx.config.TEMPORAL_NAMESPACE, taskQueue: { name: taskQueue }, taskQueueType: 1 /* WORKFLOW */ }),
    );
    return r.pollers?.length ?? 0;
  } catch {
    return undefined;
  }
}

export function noWorkerLines(workflowId: string, taskQueue: string): string[] {
  return [
    `⚠ NO WORKER polls task queue "${taskQueue}": this deploy cannot move, and a cancel cannot complete (its compensations need a worker).`,
    `  Start one on that queue:   DEPLOY_TASK_QUEUE=${taskQueue} npm run worker`,
    `  or, if the queue is a mistake (nothing ran), free the lock:   temporal workflow terminate --workflow-id ${workflowId} --reason "started on the wrong task queue"`,
    '  (terminate runs no compensation: check the environment if any stage had started)',
  ];
}

const statusSpec: CommandSpec<StatusRequest> = {
  parse([service], opts) {
    return { service: checkService(service, 'status'), environment: checkEnvironment(opts.env, 'status') };
  },
  execute: status,
};

export function registerStatus(cmd: Command, p: ProgramOptions): Command {
  cmd
    .description('the current deploy of a service in an environment (stages, gate, what it waits for), or how the last one ended')
    .argument('<service>', 'service name from the spec')
    .requiredOption('--env <environment>', 'environment, e.g. staging')
    .addHelpText(
      'after',
      `
Each decision is shown with its signer, key fingerprint (SHA256:…, as ssh-keygen -lf prints it) and what
was signed; decisions the deploy refused (unsigned, a signature that does not verify, not an approver) are
counted and the last few shown with who and why. Text from payloads is printed with control characters,
escape sequences and bidi overrides removed.

Example:
  deployctl status hello-service --env production
  temporal workflow query --workflow-id deploy-hello-service-production --name status`,
    );
  return bindAction(cmd, statusSpec, p);
}
