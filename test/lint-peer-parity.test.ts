import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RULES, lintMigrationSet } from '../src/migrations/lint';
import { PEER_CASES } from './fixtures/lint-peer-cases';
import { evaluatePeerCases, formatEvaluation } from './helpers/lint-peer-evaluation';

/**
 * The linter against the labelled cases of squawk, strong_migrations and eugene (test/fixtures/lint-peer-cases.ts),
 * each linted as a migrations directory, as `deployctl lint-migrations` does. The same figures:
 * `npx tsx scripts/lint-peer-report.ts`.
 */
test('the linter flags at least 95% of the peers\' dangerous cases, refuses at most 2% of their safe ones, and never throws', async (t) => {
  const evaluation = await evaluatePeerCases(PEER_CASES);
  for (const line of formatEvaluation(evaluation, { listProblems: true })) t.diagnostic(line);
  const { overall } = evaluation;
  assert.equal(overall.crashed, 0, 'the linter threw on a case');
  assert.ok(overall.flagRate >= 95, `flagged ${overall.flagRate}% of the dangerous cases, want at least 95%`);
  assert.ok(overall.falseAlarmRate <= 2, `refused ${overall.falseAlarmRate}% of the safe cases, want at most 2%`);
});

test('the labelled set is large, mixed, sourced, and names only rules that exist', () => {
  assert.ok(PEER_CASES.length >= 124, `only ${PEER_CASES.length} cases`);
  const dangerous = PEER_CASES.filter((c) => c.expect === 'dangerous').length;
  assert.ok(dangerous >= PEER_CASES.length / 3 && dangerous <= (2 * PEER_CASES.length) / 3, `${dangerous} of ${PEER_CASES.length} are dangerous`);
  const names = new Set(RULES.map((r) => r.name));
  for (const c of PEER_CASES) {
    assert.match(c.source.commit, /^[0-9a-f]{40}$/, c.id);
    assert.ok(c.source.path && c.source.case, `${c.id}: source path and case name`);
    if (c.expect === 'dangerous') assert.ok(c.rules.length > 0, `${c.id}: a dangerous case names the rules expected to flag it`);
    else assert.deepEqual(c.rules, [], `${c.id}: a safe case names no rule`);
    for (const rule of c.rules) assert.ok(names.has(rule), `${c.id}: no rule named ${rule}`);
  }
  for (const repo of ['sbdchd/squawk', 'ankane/strong_migrations', 'kaaveland/eugene']) {
    assert.ok(PEER_CASES.filter((c) => c.source.repo === repo).length >= 30, `fewer than 30 cases from ${repo}`);
  }
});

test('the linter never throws on the cases cut short at any space, parenthesis, comma or semicolon', () => {
  let runs = 0;
  for (const c of PEER_CASES) {
    const earlier = (c.before ?? []).map((b, i) => ({ file: `00${i + 1}_earlier.sql`, text: `-- phase: ${b.phase}\n${b.sql}\n` }));
    for (let i = 0; i < c.sql.length; i++) {
      if (!'(),; \n'.includes(c.sql[i]!)) continue;
      const cut = c.sql.slice(0, i);
      assert.doesNotThrow(() => lintMigrationSet([...earlier, { file: '099_case.sql', text: `-- phase: ${c.phase}\n${cut}\n` }]), `${c.id} cut at ${i}`);
      runs++;
    }
  }
  assert.ok(runs > 1000, `only ${runs} cuts`);
});
