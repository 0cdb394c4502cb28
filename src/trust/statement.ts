/**
 * The canonical statements approvers and requesters sign. Workflow-safe and pure.
 *
 * A statement is UTF-8 text (in fact ASCII: every value is checked), one `key: value` per line after a
 * versioned first line, in a fixed order, ending with a newline:
 *
 *   deploy-orchestrator decision v1
 *   workflow-id: deploy-hello-service-production
 *   run-id: 0198c7a1-5b2e-7c41-9a0e-2f4f3c1d9e77
 *   service: hello-service
 *   environment: production
 *   version: 1.1.0
 *   artifact-sha256: 4f5c…(64 hex digits)
 *   stage: migrate
 *   decision: approve
 *   signer: alice
 *
 * Every value is checked against a pattern that excludes line breaks and control characters, and the keys
 * and their order are fixed, so the text parses back into exactly one set of fields: two different inputs
 * never give the same bytes, and a signature over one decision can never be read as another. The first line
 * names the kind and the format version, so a signed deploy request is never a valid decision or vice versa.
 */

export const DECISION_STATEMENT_HEADER = 'deploy-orchestrator decision v1';
export const REQUEST_STATEMENT_HEADER = 'deploy-orchestrator request v1';
export const STOP_REQUEST_STATEMENT_HEADER = 'deploy-orchestrator stop request v1';

/** What a signed stop request asks for: stop the process (keep `current`), or undeploy. */
export const STOP_ACTIONS = ['stop', 'undeploy'] as const;
export type StopAction = (typeof STOP_ACTIONS)[number];

/** The SSH signature namespace of every deploy signature (`ssh-keygen -Y sign -n deploy`). */
export const SIGNATURE_NAMESPACE = 'deploy';

export const SIGNED_DECISIONS = ['approve', 'reject', 'intervene:retry', 'intervene:skip', 'intervene:abort', 'promote'] as const;
export type SignedDecision = (typeof SIGNED_DECISIONS)[number];

/**
 * A person who signs: a login or an email. The same rule as `personName` in src/names.ts (kept as a plain
 * pattern here so that workflow code using it does not load zod).
 */
export const SIGNER_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$/;

export interface DecisionStatementFields {
  workflowId: string;
  runId: string;
  service: string;
  environment: string;
  version: string;
  /** The sha256 of the release artifact, 64 lowercase hex digits; null for a gate before the build. */
  artifactSha256: string | null;
  /** The stage the gate or pause stands before, e.g. `migrate`. */
  stage: string;
  decision: SignedDecision;
  signer: string;
}

export interface RequestStatementFields {
  workflowId: string;
  service: string;
  environment: string;
  version: string;
  /** The spec path of the workflow input (a signed request never carries an inline spec). */
  spec: string;
  requestedBy: string;
  /** When the request was signed, ISO 8601 UTC: `2026-05-01T12:00:00Z` or `2026-05-01T12:00:00.000Z`. */
  requestedAt: string;
}

/** A request to stop or undeploy a service: no version (it acts on whatever runs), an action instead. */
export interface StopRequestStatementFields {
  workflowId: string;
  service: string;
  environment: string;
  action: StopAction;
  spec: string;
  requestedBy: string;
  requestedAt: string;
}

/** A field that cannot go into a statement; the message names the field and the rule, never the value. */
export class StatementFieldError extends Error {
  constructor(
    readonly field: string,
    rule: string,
  ) {
    super(`statement field ${field} ${rule}`);
    this.name = 'StatementFieldError';
  }
}

interface FieldRule {
  pattern: RegExp;
  rule: string;
  check?: (value: string) => string | undefined;
}

const RULES = {
  workflowId: { pattern: /^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$/, rule: 'must be a workflow ID: letters, digits, . _ : - (max 200)' },
  runId: { pattern: /^[A-Za-z0-9][A-Za-z0-9-]{0,63}$/, rule: 'must be a Temporal run ID: letters, digits and dashes (max 64)' },
  service: { pattern: /^[a-z][a-z0-9-]{0,62}$/, rule: 'must be lowercase letters, digits and dashes, starting with a letter (max 63)' },
  environment: { pattern: /^[a-z][a-z0-9-]{0,30}$/, rule: 'must be lowercase letters, digits and dashes, starting with a letter (max 31)' },
  version: {
    pattern: /^[0-9A-Za-z](?:[0-9A-Za-z._+-]{0,62}[0-9A-Za-z])?$/,
    rule: 'must be letters, digits, dot, dash, underscore or plus, starting and ending with a letter or digit (max 64)',
    check: (v: string) => (v.includes('..') ? 'must not contain ".."' : undefined),
  },
  artifactSha256: { pattern: /^[0-9a-f]{64}$/, rule: 'must be 64 lowercase hex digits (or null before the build)' },
  stage: { pattern: /^[A-Za-z][A-Za-z0-9._:-]{0,63}$/, rule: 'must be a stage name: letters, digits, . _ : - starting with a letter (max 64)' },
  signer: { pattern: SIGNER_NAME_PATTERN, rule: 'must be a login or email (letters, digits, . _ @ + -; max 64)' },
  requestedBy: { pattern: SIGNER_NAME_PATTERN, rule: 'must be a login or email (letters, digits, . _ @ + -; max 64)' },
  spec: {
    // Printable ASCII: no line breaks, control, bidi or look-alike characters can hide in a signed path.
    pattern: /^[\x21-\x7e](?:[\x20-\x7e]{0,1022}[\x21-\x7e])?$/,
    rule: 'must be a spec path of printable ASCII without leading or trailing spaces (max 1024)',
  },
  requestedAt: {
    pattern: /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{3})?Z$/,
    rule: 'must be an ISO 8601 UTC time such as 2026-05-01T12:00:00Z',
    check: (v: string) => (parseRequestedAt(v) === undefined ? 'is not a real date and time' : undefined),
  },
} satisfies Record<string, FieldRule>;

function checkField(field: keyof typeof RULES, value: unknown): string {
  if (typeof value !== 'string') throw new StatementFieldError(field, 'must be a string');
  const rule: FieldRule = RULES[field];
  if (!rule.pattern.test(value)) throw new StatementFieldError(field, rule.rule);
  const problem = rule.check?.(value);
  if (problem) throw new StatementFieldError(field, problem);
  return value;
}

function checkDecision(value: unknown): SignedDecision {
  if (typeof value !== 'string' || !(SIGNED_DECISIONS as readonly string[]).includes(value)) {
    throw new StatementFieldError('decision', `must be one of ${SIGNED_DECISIONS.join(', ')}`);
  }
  return value as SignedDecision;
}

function checkDecisionFields(fields: DecisionStatementFields): DecisionStatementFields {
  if (typeof fields !== 'object' || fields === null) throw new StatementFieldError('(statement)', 'must be an object');
  return {
    workflowId: checkField('workflowId', fields.workflowId),
    runId: checkField('runId', fields.runId),
    service: checkField('service', fields.service),
    environment: checkField('environment', fields.environment),
    version: checkField('version', fields.version),
    artifactSha256: fields.artifactSha256 === null ? null : checkField('artifactSha256', fields.artifactSha256),
    stage: checkField('stage', fields.stage),
    decision: checkDecision(fields.decision),
    signer: checkField('signer', fields.signer),
  };
}

function checkRequestFields(fields: RequestStatementFields): RequestStatementFields {
  if (typeof fields !== 'object' || fields === null) throw new StatementFieldError('(statement)', 'must be an object');
  return {
    workflowId: checkField('workflowId', fields.workflowId),
    service: checkField('service', fields.service),
    environment: checkField('environment', fields.environment),
    version: checkField('version', fields.version),
    spec: checkField('spec', fields.spec),
    requestedBy: checkField('requestedBy', fields.requestedBy),
    requestedAt: checkField('requestedAt', fields.requestedAt),
  };
}

function checkStopRequestFields(fields: StopRequestStatementFields): StopRequestStatementFields {
  if (typeof fields !== 'object' || fields === null) throw new StatementFieldError('(statement)', 'must be an object');
  if (typeof fields.action !== 'string' || !(STOP_ACTIONS as readonly string[]).includes(fields.action)) {
    throw new StatementFieldError('action', `must be one of ${STOP_ACTIONS.join(', ')}`);
  }
  return {
    workflowId: checkField('workflowId', fields.workflowId),
    service: checkField('service', fields.service),
    environment: checkField('environment', fields.environment),
    action: fields.action,
    spec: checkField('spec', fields.spec),
    requestedBy: checkField('requestedBy', fields.requestedBy),
    requestedAt: checkField('requestedAt', fields.requestedAt),
  };
}

function lines(header: string, entries: Array<[string, string]>): string {
  return `${header}\n${entries.map(([key, value]) => `${key}: ${value}\n`).join('')}`;
}

/** The exact text an approver signs for a decision. Throws StatementFieldError for a field that breaks its rule. */
export function renderDecisionStatement(fields: DecisionStatementFields): string {
  const f = checkDecisionFields(fields);
  return lines(DECISION_STATEMENT_HEADER, [
    ['workflow-id', f.workflowId],
    ['run-id', f.runId],
    ['service', f.service],
    ['environment', f.environment],
    ['version', f.version],
    ['artifact-sha256', f.artifactSha256 ?? 'none'],
    ['stage', f.stage],
    ['decision', f.decision],
    ['signer', f.signer],
  ]);
}

/** The exact text a requester signs for a deploy request. Throws StatementFieldError for a bad field. */
export function renderRequestStatement(fields: RequestStatementFields): string {
  const f = checkRequestFields(fields);
  return lines(REQUEST_STATEMENT_HEADER, [
    ['workflow-id', f.workflowId],
    ['service', f.service],
    ['environment', f.environment],
    ['version', f.version],
    ['spec', f.spec],
    ['requested-by', f.requestedBy],
    ['requested-at', f.requestedAt],
  ]);
}

/**
 * The exact text a requester signs to stop or undeploy a service. Its own first line: a signed deploy
 * request can never be read as a stop request, nor the reverse.
 */
export function renderStopRequestStatement(fields: StopRequestStatementFields): string {
  const f = checkStopRequestFields(fields);
  return lines(STOP_REQUEST_STATEMENT_HEADER, [
    ['workflow-id', f.workflowId],
    ['service', f.service],
    ['environment', f.environment],
    ['action', f.action],
    ['spec', f.spec],
    ['requested-by', f.requestedBy],
    ['requested-at', f.requestedAt],
  ]);
}

/** One sentence saying what a signature over this stop request means. */
export function describeStopRequestStatement(fields: StopRequestStatementFields): string {
  const f = checkStopRequestFields(fields);
  const what = f.action === 'stop' ? `stopping ${f.service} in ${f.environment} (current kept)` : `undeploying ${f.service} from ${f.environment}`;
  return `${f.requestedBy} requests ${what} from spec ${f.spec}, signed at ${f.requestedAt} (workflow ${f.workflowId})`;
}

/** One sentence saying what a signature over this decision means, for the person about to sign it. */
export function describeDecisionStatement(fields: DecisionStatementFields): string {
  const f = checkDecisionFields(fields);
  const release = `${f.service} ${f.version}`;
  const action =
    f.decision === 'approve'
      ? `approves ${release} for ${f.environment}`
      : f.decision === 'reject'
        ? `rejects ${release} for ${f.environment}`
        : f.decision === 'promote'
          ? `promotes ${release} in ${f.environment}`
          : `orders "${f.decision.slice('intervene:'.length)}" for the stuck deploy of ${release} to ${f.environment}`;
  const artifact = f.artifactSha256 ? `artifact sha256 ${f.artifactSha256}` : 'artifact not built yet';
  return `${f.signer} ${action} at stage ${f.stage} (${artifact}; workflow ${f.workflowId}, run ${f.runId})`;
}

/** One sentence saying what a signature over this request means. */
export function describeRequestStatement(fields: RequestStatementFields): string {
  const f = checkRequestFields(fields);
  return `${f.requestedBy} requests ${f.service} ${f.version} in ${f.environment} from spec ${f.spec}, signed at ${f.requestedAt} (workflow ${f.workflowId})`;
}

/** Milliseconds since the epoch of a valid `requestedAt`, or undefined. */
export function parseRequestedAt(value: string): number | undefined {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{3}))?Z$/.exec(value);
  if (!match) return undefined;
  const parts = match.slice(1, 7).map(Number);
  const ms = Date.UTC(parts[0], parts[1] - 1, parts[2], parts[3], parts[4], parts[5], Number(match[7] ?? 0));
  const d = new Date(ms);
  const back = [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()];
  return back.every((v, i) => v === parts[i]) ? ms : undefined;
}

export interface RequestFreshnessLimits {
  /** How old a signed request may be when the workflow starts. */
  maxAgeMs: number;
  /** How far in the future a request may be dated (clock skew between the signer and the server). */
  maxFutureSkewMs: number;
}

/**
 * Why a signed request is too old (or dated too far ahead) to start a deploy at `nowMs`, or null when it
 * is fresh enough. A request carries its own time because no run ID exists before the start; the window
 * bounds how long a captured request could be replayed.
 */
export function requestAgeProblem(requestedAt: string, nowMs: number, limits: RequestFreshnessLimits): string | null {
  const at = parseRequestedAt(requestedAt);
  if (at === undefined) return `requestedAt ${RULES.requestedAt.rule}`;
  if (at - nowMs > limits.maxFutureSkewMs) {
    return `the request is dated ${requestedAt}, ${formatMinutes(at - nowMs)} in the future; check the signing machine's clock and sign again`;
  }
  if (nowMs - at > limits.maxAgeMs) {
    return `the request was signed at ${requestedAt}, more than ${formatMinutes(limits.maxAgeMs)} ago; sign a fresh request`;
  }
  return null;
}

function formatMinutes(ms: number): string {
  const minutes = Math.ceil(ms / 60_000);
  return minutes === 1 ? '1 minute' : `${minutes} minutes`;
}
