import { WorkflowUpdateFailedError } from '@temporalio/client';
import type { Command } from 'commander';
import { approvalUpdate } from '../../workflows/definitions';
import type { GateState } from '../../workflows/types';
import type { CliContext } from '../context';
import { firstLine } from '../context';
import { attr, describeDeploy, isRunning } from '../deploy-state';
import { CliError } from '../errors';
import { ExitCode } from '../exit-codes';
import { gateLines } from '../format';
import { bindAction, type CommandSpec, type ProgramOptions } from '../program';
import { checkEnvironment, checkFreeText, checkPerson, checkService } from '../validate';

interface DecisionRequest {
  decision: 'approve' | 'reject';
  service: string;
  environment: string;
  by: string;
  comment?: string;
}

/**
 * Approve or reject through the `approval` UPDATE rather than the signal: the workflow's validator answers
 * synchronously, so a refused decision (not an approver, the requester, no gate waiting) reaches the
 * operator with its reason and a non-zero exit code instead of being dropped silently.
 */
async function decide(ctx: CliContext, r: DecisionRequest): Promise<number> {
  const { handle, description } = await describeDeploy(ctx, r.service, r.environment);
  if (!isRunning(description)) {
    throw new CliError(
      `no deploy of ${r.service} to ${r.environment} is running: the last one (run ${description.runId}) ended ${attr(description, 'status') ?? description.status.name.toLowerCase()}; nothing to ${r.decision}`,
      ExitCode.notFound,
    );
  }
  let gate: GateState;
  try {
    gate = await ctx.withDeadline(30_000, () =>
      handle.executeUpdate(approvalUpdate, { args: [{ decision: r.decision, by: r.by, ...(r.comment !== undefined ? { comment: r.comment } : {}) }] }),
    );
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) {
      const reason = err.cause?.message ?? err.message;
      if (ctx.json) ctx.io.out(JSON.stringify({ workflowId: handle.workflowId, runId: description.runId, decision: r.decision, by: r.by, accepted: false, reason }));
      throw new CliError(`${r.decision} refused by the deploy: ${reason}`, ExitCode.refused);
    }
    throw new CliError(
      `the ${r.decision} did not get an answer: ${firstLine(err)}. Is a worker polling task queue "${ctx.config.DEPLOY_TASK_QUEUE}"? (the approval update needs one)`,
      ExitCode.unreachable,
    );
  }
  if (ctx.json) {
    ctx.io.out(JSON.stringify({ workflowId: handle.workflowId, runId: description.runId, decision: r.decision, by: r.by, accepted: true, gate }));
  } else {
    ctx.io.out(`${r.decision === 'approve' ? 'approved' : 'rejected'} ${r.service} → ${r.environment} as ${r.by}`);
    for (const line of gateLines(gate)) ctx.io.out(line);
    ctx.io.out(
      gate.decision === 'rejected'
        ? `the deploy stops and undoes anything it changed; see: deployctl status ${r.service} --env ${r.environment}`
        : `follow it: deployctl status ${r.service} --env ${r.environment}   Web UI: ${ctx.uiLink(handle.workflowId, description.runId)}`,
    );
  }
  return ExitCode.ok;
}

const decisionSpec = (decision: 'approve' | 'reject'): CommandSpec<DecisionRequest> => ({
  parse([service], opts) {
    const textOption = decision === 'approve' ? 'comment' : 'reason';
    return {
      decision,
      service: checkService(service, decision),
      environment: checkEnvironment(opts.env, decision),
      by: checkPerson(opts.by, decision),
      comment: checkFreeText(opts[textOption], `--${textOption}`, decision),
    };
  },
  execute: decide,
});

export function registerDecision(cmd: Command, decision: 'approve' | 'reject', p: ProgramOptions): Command {
  cmd
    .description(decision === 'approve' ? 'approve the deploy waiting at an approval gate (the `approval` update)' : 'reject the deploy waiting at an approval gate; it stops and undoes its changes')
    .argument('<service>', 'service name from the spec, e.g. hello-service')
    .requiredOption('--env <environment>', 'environment of the deploy, e.g. production')
    .requiredOption('--by <name>', 'who decides; must be an approver of the gate and not the requester');
  if (decision === 'approve') cmd.option('--comment <text>', 'kept with the approval in the audit');
  else cmd.option('--reason <text>', 'why; shown in the deploy timeline and result');
  cmd.addHelpText(
    'after',
    `
Refused decisions (not an approver, the requester themself, no gate waiting, already approved) exit 4 with
the reason. Prints the gate's state after the decision.

Example:
  deployctl ${decision} hello-service --env production --by alice${decision === 'approve' ? ' --comment "checked the dashboards"' : ' --reason "freeze until Monday"'}

The same through the Temporal CLI:
  temporal workflow update execute --workflow-id deploy-hello-service-production --name approval --input '{"decision":"${decision}","by":"alice"}'`,
  );
  return bindAction(cmd, decisionSpec(decision), p);
}
