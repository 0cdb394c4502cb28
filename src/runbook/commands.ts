import { deployWorkflowId } from '../names';
import { WORKFLOW_TYPE } from '../workflows/definitions';

/**
 * The exact command lines a runbook prints, described as pure functions of names. Shell variables
 * ($VERSION, $ME, …) stand for what changes per run; JSON inputs splice them with '"$VAR"' so the line
 * is valid shell as written.
 */

export interface CommandNames {
  service: string;
  environment: string;
  specPath: string;
  taskQueue: string;
}

/** A JSON object literal for `--input`, with `$NAME` values spliced in as shell variables. */
export function shellJson(obj: Record<string, string>): string {
  const parts = Object.entries(obj).map(([k, v]) => {
    const value = /^\$[A-Z_]+$/.test(v) ? `"'"${v}"'"` : JSON.stringify(v);
    return `${JSON.stringify(k)}:${value}`;
  });
  return `'{${parts.join(',')}}'`;
}

/** Quotes a word for the shell when it needs it (paths with spaces, $ and so on). */
export function shellWord(w: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`;
}

/** Which of an environment's messages must carry the sender's signature (`--key "$KEY"`). */
export interface SignedMessages {
  /** Deploy requests (an environment with a signed gate). */
  requests: boolean;
  /** Approvals and rejections at its gates. */
  decisions: boolean;
  /** Interventions after a failed compensation (the environment names operators). */
  interventions: boolean;
}

const UNSIGNED: SignedMessages = { requests: false, decisions: false, interventions: false };

export function deployctl(n: CommandNames, signed: SignedMessages = UNSIGNED) {
  const svc = n.service;
  const env = `--env ${n.environment}`;
  const spec = shellWord(n.specPath);
  const key = (on: boolean) => (on ? ' --key "$KEY"' : '');
  const approve = `npx deployctl approve ${svc} ${env} --by "$ME"${key(signed.decisions)} --comment "checked the release notes"`;
  const reject = `npx deployctl reject ${svc} ${env} --by "$ME"${key(signed.decisions)} --reason "not during the freeze"`;
  const intervene = (action: 'retry' | 'skip' | 'abort', comment: string) => `npx deployctl intervene ${svc} ${env} --by "$ME" --action ${action}${key(signed.interventions)} --comment "${comment}"`;
  return {
    deploy: (version = '"$VERSION"') => `npx deployctl deploy ${spec} ${env} --version ${version} --by "$ME"${key(signed.requests)} --follow`,
    /** The `temporal workflow start` of a signed request, printed by deployctl (a signature cannot be written ahead). */
    deployPrint: (version = '"$VERSION"') => `npx deployctl deploy ${spec} ${env} --version ${version} --by "$ME"${key(signed.requests)} --print`,
    status: () => `npx deployctl status ${svc} ${env}`,
    approve: () => approve,
    approvePrint: (as: 'signal' | 'update') => `${approve} ${as === 'update' ? '--print-update' : '--print'}`,
    reject: () => reject,
    rejectPrint: (as: 'signal' | 'update') => `${reject} ${as === 'update' ? '--print-update' : '--print'}`,
    promote: (signedPromote: boolean) => `npx deployctl promote ${svc} ${env} --by "$ME"${key(signedPromote)}`,
    promotePrint: (signedPromote: boolean) => `npx deployctl promote ${svc} ${env} --by "$ME"${key(signedPromote)} --print`,
    history: () => `npx deployctl history ${svc} ${env}`,
    rollback: () => `npx deployctl rollback ${svc} ${env} --spec ${spec} --by "$ME"${key(signed.requests)} --follow`,
    rollbackTo: () => `npx deployctl rollback ${svc} ${env} --spec ${spec} --to "$PREVIOUS" --by "$ME"${key(signed.requests)} --follow`,
    intervene,
    intervenePrint: (action: 'retry' | 'skip' | 'abort', comment: string) => `${intervene(action, comment)} --print`,
    runbook: () => `npx deployctl runbook ${spec} ${env}`,
    lint: (dir: string) => `npx deployctl lint-migrations ${shellWord(dir)}`,
  };
}

export function temporalCli(n: CommandNames) {
  const id = deployWorkflowId(n.service, n.environment);
  const wid = `--workflow-id ${id}`;
  const inEnv = `DeployService="${n.service}" AND DeployEnvironment="${n.environment}"`;
  return {
    workflowId: id,
    start: (version = '$VERSION') =>
      [
        `temporal workflow start --task-queue ${n.taskQueue} --type ${WORKFLOW_TYPE} \\`,
        `  ${wid} \\`,
        `  --input ${shellJson({ spec: n.specPath, environment: n.environment, version, requestedBy: '$ME' })}`,
      ].join('\n'),
    query: () => `temporal workflow query ${wid} --name status`,
    describe: () => `temporal workflow describe ${wid}`,
    show: () => `temporal workflow show ${wid} --output json`,
    approveUpdate: () => `temporal workflow update execute ${wid} --name approval --input ${shellJson({ decision: 'approve', by: '$ME' })}`,
    rejectUpdate: () => `temporal workflow update execute ${wid} --name approval --input ${shellJson({ decision: 'reject', by: '$ME', comment: 'not during the freeze' })}`,
    approveSignal: () => `temporal workflow signal ${wid} --name approve --input ${shellJson({ by: '$ME' })}`,
    rejectSignal: () => `temporal workflow signal ${wid} --name reject --input ${shellJson({ by: '$ME', reason: 'not during the freeze' })}`,
    intervene: (action: 'retry' | 'skip' | 'abort') => `temporal workflow signal ${wid} --name intervene --input ${shellJson({ by: '$ME', action })}`,
    list: (status?: string) => `temporal workflow list --query '${inEnv}${status ? ` AND DeployStatus="${status}"` : ''}'`,
    listVersion: (variable: string) => `temporal workflow list --query '${inEnv} AND DeployVersion="'"${variable}"'"'`,
    cancel: () => `temporal workflow cancel ${wid}`,
    result: () => `temporal workflow result ${wid}`,
  };
}
