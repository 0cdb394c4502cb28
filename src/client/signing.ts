import { signStatement } from '../trust/sign';
import { renderDecisionStatement, renderRequestStatement, renderStopRequestStatement, type SignedDecision, type StopRequestStatementFields } from '../trust/statement';
import type { DeployInput } from '../spec/schema';
import type { GateState } from '../workflows/types';

/** What a decision statement binds besides the decision and the signer: the status query shows it at a signed gate. */
export type SigningContext = NonNullable<GateState['sign']>;

/** The statement a deploy request is signed over; `requestedAt` defaults to now (whole seconds, UTC). */
export function deployRequestStatement(input: DeployInput & { spec: string }, workflowId: string, service: string, requestedAt = nowIso()): { statement: string; requestedAt: string } {
  const statement = renderRequestStatement({ workflowId, service, environment: input.environment, version: input.version, spec: input.spec, requestedBy: input.requestedBy, requestedAt });
  return { statement, requestedAt };
}

/** Signs a deploy request with `keyFile` (ssh-keygen -Y sign): the input gains requestedAt and signature. */
export async function signDeployRequest(input: DeployInput & { spec: string }, o: { workflowId: string; service: string; keyFile: string }): Promise<DeployInput> {
  const { statement, requestedAt } = deployRequestStatement(input, o.workflowId, o.service);
  const signature = await signStatement({ statement, keyFile: o.keyFile });
  return { ...input, requestedAt, signature };
}

/** The statement a stop or undeploy request is signed over; `requestedAt` defaults to now (whole seconds, UTC). */
export function stopRequestStatement(fields: Omit<StopRequestStatementFields, 'requestedAt'>, requestedAt = nowIso()): { statement: string; requestedAt: string } {
  return { statement: renderStopRequestStatement({ ...fields, requestedAt }), requestedAt };
}

/** The statement of one decision at a signed gate or intervention. */
export function decisionStatementFor(context: SigningContext, decision: SignedDecision, signer: string): string {
  return renderDecisionStatement({ ...context, decision, signer });
}

/** Signs one decision with `keyFile`. */
export async function signDecision(context: SigningContext, decision: SignedDecision, signer: string, keyFile: string): Promise<string> {
  return signStatement({ statement: decisionStatementFor(context, decision, signer), keyFile });
}

function nowIso(): string {
  return new Date(Math.floor(Date.now() / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}
