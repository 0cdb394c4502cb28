import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import type { Command } from 'commander';
import { decisionStatementFor } from '../../client/signing';
import { describeDecisionStatement } from '../../trust/statement';
import { approvalUpdate } from '../../workflows/definitions';
import type { GateState } from '../../workflows/types';
import type { CliContext } from '../context';
import { decideAtPause } from './promote';
import { firstLine } from '../context';
import { attr, describeDeploy, isRunning, queryStatus } from '../deploy-state';
import { CliError, usageError } from '../errors';
import { ExitCode } from '../exit-codes';
import { gateLines, oneLine } from '../format';
import { bindAction, type CommandSpec, type ProgramOptions } from '../program';
import { printCommand, signWithKey, temporalCommand } from '../signing';
import { checkEnvironment, checkFreeText, checkKeyFile, checkPersonOrDefault, checkService } from '../validate';

type PrintAs = 'signal' | 'update';

interface DecisionRequest {
  decision: 'approve' | 'reject';
  service: string;
  environment: string;
  by: string;
  comment?: string;
  /** A private key file, or a .pub whose key is in ssh-agent. */
  key?: string;
  /** Print the Temporal CLI command instead of sending. */
  print?: PrintAs;
}

/**
 * Approve or reject. Sent through the `approval` UPDATE rather than the signal: the workflow's validator
 * answers synchronously, so a refused decision (not an approver, the requester, a signature that does not
 * verify, no gate waiting) reaches the operator with its reason and a non-zero exit code instead of being
 * dropped silently. At a signed gate the decision's statement (read from the gate in the status query) is
 * signed with --key first. `--print` prints the Temporal CLI command instead of sending.
 */
async function decide(ctx: CliContext, r: DecisionRequest): Promise<number> {
  const { handle: latest, description } = await describeDeploy(ctx, r.service, r.environment);
  if (!isRunning(description)) {
    throw new CliError(
      `no deploy of ${r.service} to ${r.environment} is running: the last one (run ${description.runId}) ended ${attr(description, 'status') ?? description.status.name.toLowerCase()}; nothing to ${r.decision}`,
      ExitCode.notFound,
    );
  }
  // Bound to the run that was described: a signature binds one run, so the decision goes to that run only.
  const handle = (await ctx.temporal()).workflow.getHandle(latest.workflowId, description.runId);
  const refused = (reason: string): never => {
    if (ctx.json) ctx.io.out(JSON.stringify({ workflowId: handle.workflowId, runId: description.runId, decision: r.decision, by: r.by, accepted: false, reason }));
    throw new CliError(`${r.decision} refused by the deploy: ${reason}`, ExitCode.refused);
  };

  const view = await queryStatus(ctx, handle);
  if (!view) throw new CliError(`the deploy did not answer its status query: is a worker polling task queue "${ctx.config.DEPLOY_TASK_QUEUE}"? (deciding needs one)`, ExitCode.unreachable);
  const gate = view.pendingGate;
  // A rollout paused for promote is stopped by a signed reject signal (the approval update is for gates).
  if ((!gate || gate.decision) && view.pendingPromotion && r.decision === 'reject' && !r.print) {
    return decideAtPause(ctx, { decision: 'reject', service: r.service, environment: r.environment, by: r.by, comment: r.comment, key: r.key });
  }
  if (!gate || gate.decision) return refused(`no approval gate is waiting in this deploy (status ${oneLine(view.status, 40)}, stage ${oneLine(view.stage, 64)})`);
  if (gate.approvers.length > 0 && !gate.approvers.includes(r.by)) {
    return refused(`${r.by} is not an approver for the gate before ${oneLine(gate.stage, 64)} (allowed: ${gate.approvers.map((a) => oneLine(a, 64)).join(', ')})`);
  }

  const signature = await signatureFor(ctx, r, gate);
  const text = r.comment !== undefined ? { comment: r.comment } : {};
  const signed = signature !== undefined ? { signature } : {};
  if (r.print) {
    const input =
      r.print === 'update'
        ? { decision: r.decision, by: r.by, ...text, ...signed }
        : r.decision === 'approve'
          ? { by: r.by, ...text, ...signed }
          : { by: r.by, ...(r.comment !== undefined ? { reason: r.comment } : {}), ...signed };
    const printed =
      r.print === 'update'
        ? temporalCommand(ctx, ['workflow', 'update', 'execute'], ['--workflow-id', handle.workflowId, '--name', 'approval', '--input', JSON.stringify(input)])
        : temporalCommand(ctx, ['workflow', 'signal'], ['--workflow-id', handle.workflowId, '--name', r.decision, '--input', JSON.stringify(input)]);
    printCommand(ctx, printed, { workflowId: handle.workflowId, runId: description.runId, decision: r.decision, by: r.by, via: r.print, input });
    if (!ctx.json) {
      ctx.io.err(
        signature
          ? `the signature is valid for run ${description.runId} only, at the gate before ${oneLine(gate.stage, 64)}; ${r.print === 'signal' ? 'a signal does not answer: check with deployctl status' : 'the update answers with the gate state or the refusal'}`
          : `the gate before ${oneLine(gate.stage, 64)} is not signed, so the command carries no signature`,
      );
    }
    return ExitCode.ok;
  }
  return sendUpdate(ctx, r, handle, description.runId, { decision: r.decision, by: r.by, ...text, ...signed }, refused);
}

/** At a signed gate: the signature over this decision's statement; at an unsigned gate: none. */
async function signatureFor(ctx: CliContext, r: DecisionRequest, gate: GateState): Promise<string | undefined> {
  if (!gate.signed) {
    if (r.key) ctx.io.err(`note: the gate before ${oneLine(gate.stage, 64)} does not require signatures; --key was not used`);
    return undefined;
  }
  if (!gate.sign) throw new CliError('the gate is signed but the status query does not show what to sign; is the worker older than the workflow? Upgrade it', ExitCode.error);
  if (!r.key) {
    throw usageError(
      `--key: the gate before ${oneLine(gate.stage, 64)} accepts only signed decisions: ${r.by}'s ${r.decision} counts only with a signature by ${r.by}'s key in the spec's trust.allowedSigners. ` +
        `Pass --key <your private key> (or its .pub when the key is loaded in ssh-agent). To sign elsewhere: ` +
        `deployctl statement ${r.service} --env ${r.environment} --decision ${r.decision} --by ${r.by} > statement.txt; ssh-keygen -Y sign -n deploy -f <key> statement.txt; ` +
        `then send the content of statement.txt.sig as "signature" (see deployctl ${r.decision} --help)`,
    );
  }
  const fields = { ...gate.sign, decision: r.decision, signer: r.by } as const;
  let statement: string;
  let what: string;
  try {
    statement = decisionStatementFor(gate.sign, r.decision, r.by);
    what = describeDecisionStatement(fields);
  } catch (err) {
    throw new CliError(`cannot build the statement to sign from the deploy's status: ${firstLine(err)}`, ExitCode.error);
  }
  return signWithKey(ctx, { statement, keyFile: r.key, what });
}

async function sendUpdate(
  ctx: CliContext,
  r: DecisionRequest,
  handle: WorkflowHandle,
  runId: string,
  input: { decision: 'approve' | 'reject'; by: string; comment?: string; signature?: string },
  refused: (reason: string) => never,
): Promise<number> {
  let gate: GateState;
  try {
    gate = await ctx.withDeadline(30_000, () => handle.executeUpdate(approvalUpdate, { args: [input] }));
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) return refused(oneLine(err.cause?.message ?? err.message, 1000));
    throw new CliError(
      `the ${r.decision} did not get an answer: ${firstLine(err)}. Is a worker polling task queue "${ctx.config.DEPLOY_TASK_QUEUE}"? (the approval update needs one)`,
      ExitCode.unreachable,
    );
  }
  if (ctx.json) {
    ctx.io.out(JSON.stringify({ workflowId: handle.workflowId, runId, decision: r.decision, by: r.by, accepted: true, signed: input.signature !== undefined, gate }));
    return ExitCode.ok;
  }
  ctx.io.out(`${r.decision === 'approve' ? 'approved' : 'rejected'} ${r.service} → ${r.environment} as ${r.by}${input.signature ? ' (signed)' : ''}`);
  for (const line of gateLines(gate)) ctx.io.out(line);
  ctx.io.out(
    gate.decision === 'rejected'
      ? `the deploy stops and undoes anything it changed; see: deployctl status ${r.service} --env ${r.environment}`
      : `follow it: deployctl status ${r.service} --env ${r.environment}   Web UI: ${ctx.uiLink(handle.workflowId, runId)}`,
  );
  return ExitCode.ok;
}

const decisionSpec = (decision: 'approve' | 'reject'): CommandSpec<DecisionRequest> => ({
  parse([service], opts, p) {
    const textOption = decision === 'approve' ? 'comment' : 'reason';
    if (opts.print && opts.printUpdate) throw usageError(`--print and --print-update: choose one (the signal or the update command) (see deployctl ${decision} --help)`);
    const print: PrintAs | undefined = opts.print ? 'signal' : opts.printUpdate ? 'update' : undefined;
    return {
      decision,
      service: checkService(service, decision),
      environment: checkEnvironment(opts.env, decision),
      by: checkPersonOrDefault(opts.by, p.env, decision),
      comment: checkFreeText(opts[textOption], `--${textOption}`, decision),
      key: checkKeyFile(opts.key, p.cwd, decision),
      ...(print ? { print } : {}),
    };
  },
  execute: decide,
});

export function registerDecision(cmd: Command, decision: 'approve' | 'reject', p: ProgramOptions): Command {
  cmd
    .description(
      decision === 'approve'
        ? 'approve the deploy waiting at an approval gate, signed with your SSH key (the `approval` update)'
        : 'reject the deploy waiting at an approval gate, signed with your SSH key; it stops and undoes its changes',
    )
    .argument('<service>', 'service name from the spec, e.g. hello-service')
    .requiredOption('--env <environment>', 'environment of the deploy, e.g. production')
    .option('--by <name>', 'who decides: an approver of the gate, not the requester (default: $USER, then the OS user name)')
    .option('--key <file>', 'your SSH private key (or its .pub when the key is loaded in ssh-agent); required at a signed gate');
  if (decision === 'approve') cmd.option('--comment <text>', 'kept with the approval in the audit (not part of the signed statement)');
  else cmd.option('--reason <text>', 'why; shown in the deploy timeline and result (not part of the signed statement)');
  cmd
    .option('--print', `print the signed \`temporal workflow signal … --name ${decision}\` command instead of sending it`)
    .option('--print-update', 'print the signed `temporal workflow update execute … --name approval` command instead of sending it');
  cmd.addHelpText(
    'after',
    `
A gate that lists approvers is signed (the default): the decision counts only with an SSH signature by the
approver's key, listed in the spec's trust.allowedSigners, over a statement that names this deploy, run,
version, artifact, stage, decision and signer. deployctl reads that statement from the waiting gate, signs it
with ssh-keygen -Y sign -n deploy (a passphrase-protected or security key: load it into ssh-agent and pass
its .pub) and sends it. To sign on another machine, print the statement with deployctl statement.

Refused decisions (not an approver, the requester themself, a signature that does not verify, no gate
waiting, already approved) exit 4 with the reason. Without --key at a signed gate: exit 2, nothing is sent.
A key ssh-keygen cannot use: exit 7. Prints the gate's state after the decision.

Examples:
  deployctl ${decision} hello-service --env production --by alice --key ~/.ssh/id_ed25519${decision === 'approve' ? ' --comment "checked the dashboards"' : ' --reason "freeze until Monday"'}
  deployctl ${decision} hello-service --env production --by alice --key ~/.ssh/id_ed25519.pub     # key in ssh-agent
  deployctl ${decision} hello-service --env production --by alice --key .data/keys/alice --print  # the Temporal CLI command

The same through the Temporal CLI (what --print and --print-update print, with the signature filled in):
  temporal workflow signal --workflow-id deploy-hello-service-production --name ${decision} --input '{"by":"alice","signature":"-----BEGIN SSH SIGNATURE-----\\n…"}'
  temporal workflow update execute --workflow-id deploy-hello-service-production --name approval --input '{"decision":"${decision}","by":"alice","signature":"…"}'`,
  );
  return bindAction(cmd, decisionSpec(decision), p);
}
