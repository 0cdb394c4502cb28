import { condition } from '@temporalio/workflow';
import type { DeployState } from './deploy-state';
import { checkDecisionSignature } from './signatures';
import type { Approval, GatePlan, GateState, SignatureProof } from './types';

/** ", signed with SHA256:…" for the timeline. */
export function signedWith(proof: SignatureProof | undefined): string {
  return proof ? ` (signed, key ${proof.fingerprint})` : '';
}

/**
 * Pure gate rules, shared by the signal handlers (which record a refusal) and the update validator
 * (which returns it to the caller). Returns the reason a decision is refused, or null when it counts.
 */
export function refuseDecision(
  gate: GatePlan | undefined,
  state: GateState | undefined,
  requestedBy: string,
  by: string,
  decision: 'approve' | 'reject',
): string | null {
  if (!gate || !state || state.decision) return 'no approval gate is waiting in this deploy';
  if (gate.approvers.length > 0 && !gate.approvers.includes(by)) {
    return `${by} is not an approver for the gate before ${gate.before} (allowed: ${gate.approvers.join(', ')})`;
  }
  if (by === requestedBy && !gate.requesterMayApprove) {
    return `${by} requested this deploy and may not ${decision} it; ask another approver`;
  }
  if (decision === 'approve' && state.approvals.some((a) => a.by === by)) {
    return `${by} has already approved; the gate needs ${gate.quorum} distinct approvers`;
  }
  return null;
}

/** Thrown inside the workflow when a gate ends the deploy (rejected or timed out). */
export class GateStopped extends Error {
  constructor(
    readonly decision: 'rejected' | 'timed_out',
    message: string,
  ) {
    super(message);
  }
}

/**
 * The approval gates of one deploy: at most one waits at a time. Decisions arrive through the handlers
 * (signals and the update), are checked with `refuseDecision`, and end the wait once the quorum is met, a
 * rejection arrives or the gate's timeout passes.
 */
export class ApprovalGates {
  private gate: GatePlan | undefined;
  private state: GateState | undefined;

  constructor(private readonly deploy: DeployState) {}

  /**
   * Checks a decision: the gate rules, then, at a signed gate, the signature (which proves `by`). Returns
   * why it is refused, or the proof it carries (none at an unsigned gate).
   */
  check(by: string, decision: 'approve' | 'reject', signature: unknown): { refusal: string } | { proof?: SignatureProof } {
    const refusal = refuseDecision(this.gate, this.state, this.deploy.plan?.requestedBy ?? '', by, decision);
    if (refusal) return { refusal };
    if (!this.gate!.signed) return {};
    return checkDecisionSignature(this.deploy, { stage: this.gate!.before, decision, signer: by, signature });
  }

  /** The gate's state after a decision (the update's answer). */
  get current(): GateState | undefined {
    return this.state;
  }

  /** Counts a decision that `refusal` accepted. */
  decide(decision: 'approve' | 'reject', by: string, comment: string | undefined, via: Approval['via'], signature?: SignatureProof): void {
    const { gate, state, deploy } = this;
    if (!gate || !state || !deploy.plan) return;
    if (decision === 'reject') {
      state.decision = 'rejected';
      state.rejectedBy = { by, at: deploy.now(), reason: comment, ...(signature ? { signature } : {}) };
      deploy.note({ kind: 'gate', stage: gate.before, event: `rejected by ${by}${signedWith(signature)}`, detail: comment });
      return;
    }
    const approval: Approval = { by, at: deploy.now(), comment, via, ...(signature ? { signature } : {}) };
    state.approvals.push(approval);
    deploy.approvals.push(approval);
    state.given = state.approvals.length;
    state.needed = Math.max(0, gate.quorum - state.approvals.length);
    deploy.note({ kind: 'gate', stage: gate.before, event: `approved by ${by}${signedWith(signature)} (${state.approvals.length}/${gate.quorum})`, detail: comment });
    if (state.needed === 0) state.decision = 'approved';
  }

  /** Waits at `g` until it is approved; throws GateStopped when it is rejected or times out. */
  async wait(g: GatePlan): Promise<void> {
    const { deploy } = this;
    const deadline = new Date(Date.now() + g.timeoutMs).toISOString();
    const state: GateState = { stage: g.before, approvers: g.approvers, quorum: g.quorum, approvals: [], given: 0, needed: g.quorum, deadline };
    if (g.signed) {
      const p = deploy.plan!;
      state.signed = true;
      state.sign = { ...deploy.ids, service: p.service, environment: p.environment, version: p.version, artifactSha256: deploy.artifact?.sha256 ?? null, stage: g.before };
    }
    this.gate = g;
    this.state = state;
    deploy.pendingGate = state;
    const who = g.approvers.length ? g.approvers.join(' or ') : 'any approver except the requester';
    deploy.note({ kind: 'gate', stage: g.before, event: `waiting for ${g.quorum} approval(s) from ${who}`, detail: `deadline ${deadline}` });
    deploy.setStatus('awaiting_approval', g.before, `approval before ${g.before}: ${g.quorum} from ${who}, by ${deadline}`);
    let decided: boolean;
    try {
      decided = await condition(() => state.decision !== undefined, g.timeoutMs);
    } finally {
      // Also on cancellation: once the wait is over, no decision may arrive for this gate.
      this.gate = undefined;
      deploy.pendingGate = undefined;
    }
    if (!decided) {
      state.decision = 'timed_out';
      deploy.note({ kind: 'gate', stage: g.before, event: 'timed out', detail: `no decision by ${deadline}` });
    }
    if (state.decision === 'approved') {
      deploy.setStatus('running', g.before);
      return;
    }
    if (state.decision === 'rejected') {
      const r = state.rejectedBy;
      throw new GateStopped('rejected', `rejected by ${r?.by}${r?.reason ? `: ${r.reason}` : ''}`);
    }
    throw new GateStopped('timed_out', `approval gate before ${g.before} timed out`);
  }
}
