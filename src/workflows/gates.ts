import type { GatePlan, GateState } from './types';

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
