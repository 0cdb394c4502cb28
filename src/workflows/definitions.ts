import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { ApprovalUpdate, ApproveSignal, DeployStatusView, GateState, InterveneSignal, PromoteSignal, RejectSignal } from './types';

// The contract's names: operators type these into the Temporal CLI, dashboards and scripts query them.
export const WORKFLOW_TYPE = 'deployRelease';
export const approveSignal = defineSignal<[ApproveSignal]>('approve');
export const rejectSignal = defineSignal<[RejectSignal]>('reject');
export const interveneSignal = defineSignal<[InterveneSignal]>('intervene');
/** Advances a blueGreen or canary rollout paused for promote. */
export const promoteSignal = defineSignal<[PromoteSignal]>('promote');
export const approvalUpdate = defineUpdate<GateState, [ApprovalUpdate]>('approval');
export const statusQuery = defineQuery<DeployStatusView>('status');

export const SA = {
  service: defineSearchAttributeKey('DeployService', SearchAttributeType.KEYWORD),
  environment: defineSearchAttributeKey('DeployEnvironment', SearchAttributeType.KEYWORD),
  version: defineSearchAttributeKey('DeployVersion', SearchAttributeType.KEYWORD),
  stage: defineSearchAttributeKey('DeployStage', SearchAttributeType.KEYWORD),
  status: defineSearchAttributeKey('DeployStatus', SearchAttributeType.KEYWORD),
  requestedBy: defineSearchAttributeKey('DeployRequestedBy', SearchAttributeType.KEYWORD),
  // A fleet deploy's per-host progress: hosts in the rollout, hosts on the new release, hosts that failed.
  hostsTotal: defineSearchAttributeKey('DeployHostsTotal', SearchAttributeType.INT),
  hostsUpdated: defineSearchAttributeKey('DeployHostsUpdated', SearchAttributeType.INT),
  hostsFailed: defineSearchAttributeKey('DeployHostsFailed', SearchAttributeType.INT),
};
export const SEARCH_ATTRIBUTE_NAMES = [
  'DeployService',
  'DeployEnvironment',
  'DeployVersion',
  'DeployStage',
  'DeployStatus',
  'DeployRequestedBy',
  'DeployHostsTotal',
  'DeployHostsUpdated',
  'DeployHostsFailed',
] as const;
