import {
  FREE_TEXT_MAX_CHARS,
  FREE_TEXT_TOO_LONG,
  PERSON_NAME,
  PERSON_NAME_MESSAGE,
  SIGNATURE_MAX_CHARS,
  SIGNATURE_TOO_LONG,
  UNSAFE_TEXT,
  UNSAFE_TEXT_MESSAGE,
} from '../text-rules';
import type { ApprovalUpdate, ApproveSignal, InterveneSignal, PromoteSignal, RejectSignal } from './types';

// Signal and update payloads are external input: validated here, inside the workflow, because a signal
// has no validator of its own. Free text is bounded and free of control characters.
//
// Checked by hand, not with zod: zod in the workflow bundle, even never evaluated, cost the worker ≈ 36 MB
// at idle and ≈ 130 MB at 200 deploys in flight (its code and source map are held by both worker threads,
// two bytes per character; BENCHMARKS.md, "Worker memory"). The checks and messages are zod's
// (src/client/payload-schemas.ts holds the zod schemas for clients; test/unit/payload-validation.test.ts
// compares the two on thousands of payloads).

type FieldCheck = (value: unknown) => string[];

const string =
  (...rules: Array<(s: string) => string | undefined>): FieldCheck =>
  (value) =>
    typeof value === 'string' ? rules.map((rule) => rule(value)).filter((m): m is string => m !== undefined) : [`Invalid input: expected string, received ${receivedType(value)}`];

const person = string((s) => (PERSON_NAME.test(s) ? undefined : PERSON_NAME_MESSAGE));
const freeText = string(
  (s) => (s.length > FREE_TEXT_MAX_CHARS ? FREE_TEXT_TOO_LONG : undefined),
  (s) => (UNSAFE_TEXT.test(s) ? UNSAFE_TEXT_MESSAGE : undefined),
);
const signature = string((s) => (s.length > SIGNATURE_MAX_CHARS ? SIGNATURE_TOO_LONG : undefined));
const oneOf =
  (values: readonly string[]): FieldCheck =>
  (value) =>
    typeof value === 'string' && values.includes(value) ? [] : [`Invalid option: expected one of ${values.map((v) => JSON.stringify(v)).join('|')}`];

interface Field {
  check: FieldCheck;
  optional?: true;
}
const optional = (check: FieldCheck): Field => ({ check, optional: true });

/** The fields of each payload, in the order their problems are reported. */
const PAYLOADS = {
  approve: { by: { check: person }, comment: optional(freeText), signature: optional(signature) },
  reject: { by: { check: person }, reason: optional(freeText), comment: optional(freeText), signature: optional(signature) },
  intervene: { by: { check: person }, action: { check: oneOf(['retry', 'skip', 'abort']) }, comment: optional(freeText), signature: optional(signature) },
  promote: { by: { check: person }, comment: optional(freeText), signature: optional(signature) },
  approval: { decision: { check: oneOf(['approve', 'reject']) }, by: { check: person }, comment: optional(freeText), signature: optional(signature) },
} satisfies Record<string, Record<string, Field>>;

export type PayloadName = keyof typeof PAYLOADS;

interface PayloadTypes {
  approve: ApproveSignal;
  reject: RejectSignal;
  intervene: InterveneSignal;
  promote: PromoteSignal;
  approval: ApprovalUpdate;
}

export type PayloadCheck<T> = { ok: true; data: T } | { ok: false; error: string };

/**
 * Checks one signal or update payload. On success `data` holds the known fields that were given; on failure
 * `error` names the payload and every problem by field: `approve: by: must be a login or email (…); quorum:
 * unknown field; remove it (or check its spelling)`.
 */
export function checkPayload<N extends PayloadName>(name: N, raw: unknown): PayloadCheck<PayloadTypes[N]> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, error: `${name}: (payload): Invalid input: expected object, received ${receivedType(raw)}` };
  }
  const fields: Record<string, Field> = PAYLOADS[name];
  const given = raw as Record<string, unknown>;
  const problems: string[] = [];
  const data: Record<string, unknown> = {};
  for (const [field, { check, optional }] of Object.entries(fields)) {
    const value = Object.prototype.hasOwnProperty.call(given, field) ? given[field] : undefined;
    if (value === undefined && optional) continue;
    const messages = check(value);
    for (const m of messages) problems.push(`${field}: ${m}`);
    if (messages.length === 0) data[field] = value;
  }
  for (const key of Object.keys(given)) {
    if (!Object.prototype.hasOwnProperty.call(fields, key)) problems.push(`${key}: unknown field; remove it (or check its spelling)`);
  }
  if (problems.length > 0) return { ok: false, error: `${name}: ${problems.join('; ')}` };
  return { ok: true, data: data as unknown as PayloadTypes[N] };
}

/** How zod names the type of a value it did not expect ("received null", "received array", …). */
function receivedType(value: unknown): string {
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : Number.isFinite(value) ? 'number' : String(value);
  if (typeof value !== 'object') return typeof value;
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  const ctor = Object.getPrototypeOf(value) !== Object.prototype && 'constructor' in value ? (value as { constructor?: { name?: string } }).constructor : undefined;
  return ctor?.name ?? 'object';
}
