import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseRollbackTarget } from '../../src/cli/commands/rollback';
import { CliError } from '../../src/cli/errors';
import type { ReleaseRow, ReleaseStatus } from '../../src/registry/registry';

let id = 0;
/** A registry row; minutes are when it went live (null: never live). Newest first, as Registry.history returns. */
function row(version: string, status: ReleaseStatus, liveAtMinute: number | null): ReleaseRow {
  const at = (m: number) => new Date(Date.UTC(2026, 0, 1, 12, m));
  return {
    id: ++id, service: 'svc', environment: 'staging', version, artifactSha256: `sha-${version}`, status, requestedBy: 'carol', approvals: [],
    workflowId: 'deploy-svc-staging', runId: `run-${id}`, createdAt: at(liveAtMinute ?? 0), liveAt: liveAtMinute === null ? null : at(liveAtMinute), endedAt: null, health: null,
  };
}

const pick = (rows: ReleaseRow[], to?: string) => {
  const { live, target } = chooseRollbackTarget(rows, 'svc', 'staging', to);
  return `${live.version} -> ${target.version}`;
};

test('without --to: the release live before the current one, skipping rolled-back and failed releases', () => {
  const rows = [row('2.0.0', 'rolled_back', 30), row('1.2.0', 'failed', null), row('1.1.0', 'live', 20), row('1.0.0', 'superseded', 10)];
  assert.equal(pick(rows), '1.1.0 -> 1.0.0');
});

test('after a rollback, rolling back again goes forward to the release it replaced (like cd -)', () => {
  const rows = [row('1.0.0', 'live', 40), row('1.1.0', 'superseded', 20), row('1.0.0', 'superseded', 10)];
  assert.equal(pick(rows), '1.0.0 -> 1.1.0');
});

test('--to: any release that served here and was replaced; not the live one, not a rolled-back one, not an unknown one', () => {
  const rows = [row('1.2.0', 'live', 30), row('2.0.0', 'rolled_back', 25), row('1.1.0', 'superseded', 20), row('1.0.0', 'superseded', 10)];
  assert.equal(pick(rows, '1.0.0'), '1.2.0 -> 1.0.0');
  assert.throws(() => pick(rows, '1.2.0'), (e: CliError) => e.exitCode === 2 && /--to: 1\.2\.0 is already live/.test(e.message));
  assert.throws(() => pick(rows, '2.0.0'), (e: CliError) => e.exitCode === 2 && /versions you can roll back to: 1\.1\.0, 1\.0\.0\)/.test(e.message));
  assert.throws(() => pick(rows, '3.0.0'), (e: CliError) => e.exitCode === 2 && /--to: 3\.0\.0 never served svc in staging/.test(e.message));
});

test('nothing live, or nothing before it: exit 5 with what to do', () => {
  assert.throws(() => pick([row('1.0.0', 'rolled_back', 5)]), (e: CliError) => e.exitCode === 5 && /nothing is live for svc in staging/.test(e.message));
  assert.throws(() => pick([row('1.0.0', 'live', 5)]), (e: CliError) => e.exitCode === 5 && /no release of svc was live in staging before 1\.0\.0; .*give one with --to/.test(e.message));
});
