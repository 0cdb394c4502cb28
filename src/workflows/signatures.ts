import { verifySignedStatement } from '../trust/sshsig';
import { renderDecisionStatement, SIGNATURE_NAMESPACE, StatementFieldError, type SignedDecision } from '../trust/statement';
import type { DeployState } from './deploy-state';
import type { SignatureProof } from './types';

/**
 * Checks a decision's signature inside the workflow, deterministically: the keys are the ones the plan
 * recorded, the statement binds this run, this version and artifact, the stage and the decision, and the
 * clock is the workflow's. Returns the proof, or why the decision is refused.
 */
export function checkDecisionSignature(
  deploy: DeployState,
  o: { stage: string; decision: SignedDecision; signer: string; signature: unknown },
): { proof: SignatureProof } | { refusal: string } {
  const plan = deploy.plan;
  if (!plan?.trust) return { refusal: 'this deploy trusts no keys (the spec names no trust.allowedSigners), so it cannot accept a signed decision' };
  if (o.signature === undefined) {
    return { refusal: `${o.decision} before ${o.stage} must be signed by ${o.signer}'s key: sign it with npx deployctl (--key), or print the statement to sign with npx deployctl statement` };
  }
  let statement: string;
  try {
    statement = decisionStatement(deploy, o.stage, o.decision, o.signer);
  } catch (err) {
    if (err instanceof StatementFieldError) return { refusal: err.message };
    throw err;
  }
  const verdict = verifySignedStatement({
    armored: o.signature,
    statement,
    namespace: SIGNATURE_NAMESPACE,
    principal: o.signer,
    signers: plan.trust.allowedSigners,
    verifyTimeMs: Date.now(),
  });
  if (!verdict.ok) return { refusal: `signature refused: ${verdict.reason}` };
  return { proof: { signer: verdict.principal, fingerprint: verdict.fingerprint, keyType: verdict.keyType, statement } };
}

/** The exact statement a signer signs for `decision` at `stage` of this run. */
export function decisionStatement(deploy: DeployState, stage: string, decision: SignedDecision, signer: string): string {
  const plan = deploy.plan!;
  return renderDecisionStatement({
    workflowId: deploy.ids.workflowId,
    runId: deploy.ids.runId,
    service: plan.service,
    environment: plan.environment,
    version: plan.version,
    artifactSha256: deploy.artifact?.sha256 ?? null,
    stage,
    decision,
    signer,
  });
}
