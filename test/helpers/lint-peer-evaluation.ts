import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { lintMigrationPaths, type Finding } from '../../src/migrations/lint';
import type { PeerCase } from '../fixtures/lint-peer-cases';

/**
 * Runs the linter on labelled peer cases the way an operator does (`deployctl lint-migrations <dir>`): each
 * case becomes a migrations directory holding its earlier migrations and then its own file, and only the
 * findings on its own file count.
 */
export type Verdict =
  /** Dangerous, and one of the expected rules reported it. */
  | 'flagged'
  /** Dangerous, reported, but only by rules other than the expected ones. */
  | 'flagged-other-rule'
  | 'missed'
  /** Safe and no finding. */
  | 'passed'
  | 'false-alarm'
  /** The linter threw. */
  | 'crashed';

export interface CaseOutcome {
  peerCase: PeerCase;
  verdict: Verdict;
  findings: Finding[];
  error?: string;
}

export interface Tally {
  dangerous: number;
  flagged: number;
  flaggedOtherRule: number;
  safe: number;
  falseAlarms: number;
  crashed: number;
  /** flagged / dangerous, in percent. */
  flagRate: number;
  /** falseAlarms / safe, in percent. */
  falseAlarmRate: number;
}

export interface PeerEvaluation {
  outcomes: CaseOutcome[];
  overall: Tally;
  bySource: Record<string, Tally>;
  /** The cases added after the rules were written (PeerCase.heldOut). */
  heldOut: Tally;
}

export async function evaluatePeerCases(cases: readonly PeerCase[]): Promise<PeerEvaluation> {
  const ids = new Set<string>();
  for (const c of cases) {
    if (ids.has(c.id)) throw new Error(`peer case ${c.id} is listed twice`);
    ids.add(c.id);
  }
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'lint-peer-cases-'));
  const outcomes: CaseOutcome[] = [];
  try {
    let n = 0;
    for (const peerCase of cases) {
      outcomes.push(await evaluateCase(peerCase, path.join(root, String(++n).padStart(4, '0'))));
    }
  } finally {
    await fs.rm(root, { recursive: true, force: true });
  }
  const bySource: Record<string, Tally> = {};
  for (const repo of [...new Set(cases.map((c) => c.source.repo))]) {
    bySource[repo] = tally(outcomes.filter((o) => o.peerCase.source.repo === repo));
  }
  return { outcomes, overall: tally(outcomes), bySource, heldOut: tally(outcomes.filter((o) => o.peerCase.heldOut)) };
}

async function evaluateCase(peerCase: PeerCase, dir: string): Promise<CaseOutcome> {
  await fs.mkdir(dir);
  const earlier = peerCase.before ?? [];
  const files = [...earlier, { phase: peerCase.phase, sql: peerCase.sql }];
  const names = files.map((_, i) => `${String(i + 1).padStart(3, '0')}_${i === earlier.length ? 'case' : 'earlier'}.sql`);
  for (const [i, f] of files.entries()) {
    await fs.writeFile(path.join(dir, names[i]!), `-- phase: ${f.phase}\n${f.sql}\n`);
  }
  const caseFile = path.join(dir, names[names.length - 1]!);
  let findings: Finding[];
  try {
    const results = await lintMigrationPaths([dir]);
    findings = results.find((r) => r.file === caseFile)?.findings ?? [];
  } catch (err) {
    return { peerCase, verdict: 'crashed', findings: [], error: (err as Error).stack ?? String(err) };
  }
  let verdict: Verdict;
  if (peerCase.expect === 'safe') verdict = findings.length === 0 ? 'passed' : 'false-alarm';
  else if (findings.some((f) => peerCase.rules.includes(f.rule))) verdict = 'flagged';
  else verdict = findings.length > 0 ? 'flagged-other-rule' : 'missed';
  return { peerCase, verdict, findings };
}

function tally(outcomes: CaseOutcome[]): Tally {
  const count = (v: Verdict) => outcomes.filter((o) => o.verdict === v).length;
  const dangerous = outcomes.filter((o) => o.peerCase.expect === 'dangerous').length;
  const safe = outcomes.length - dangerous;
  const flagged = count('flagged');
  const falseAlarms = count('false-alarm');
  const percent = (part: number, whole: number) => (whole === 0 ? 0 : Math.round((1000 * part) / whole) / 10);
  return {
    dangerous,
    flagged,
    flaggedOtherRule: count('flagged-other-rule'),
    safe,
    falseAlarms,
    crashed: count('crashed'),
    flagRate: percent(flagged, dangerous),
    falseAlarmRate: percent(falseAlarms, safe),
  };
}

/** The figures as printed by `scripts/lint-peer-report.ts` and the parity test. */
export function formatEvaluation(evaluation: PeerEvaluation, options: { listProblems: boolean }): string[] {
  const row = (name: string, t: Tally) =>
    `${name.padEnd(26)} ${String(t.dangerous).padStart(9)} ${`${t.flagged} (${t.flagRate}%)`.padStart(13)} ` +
    `${String(t.safe).padStart(5)} ${`${t.falseAlarms} (${t.falseAlarmRate}%)`.padStart(13)} ${String(t.crashed).padStart(8)}`;
  const lines = [
    `${'source'.padEnd(26)} ${'dangerous'.padStart(9)} ${'flagged'.padStart(13)} ${'safe'.padStart(5)} ${'false alarms'.padStart(13)} ${'crashed'.padStart(8)}`,
    ...Object.entries(evaluation.bySource).map(([repo, t]) => row(repo, t)),
    row('all', evaluation.overall),
    row('of which held out', evaluation.heldOut),
  ];
  if (options.listProblems) {
    for (const o of evaluation.outcomes) {
      if (o.verdict === 'flagged' || o.verdict === 'passed') continue;
      const reported = o.findings.map((f) => f.rule).join(', ') || 'nothing';
      const expected = o.peerCase.rules.length ? `; expected ${o.peerCase.rules.join(' or ')}` : '';
      lines.push(`${o.verdict}: ${o.peerCase.id} (${o.peerCase.source.path}): reported ${reported}${expected}${o.error ? `\n${o.error}` : ''}`);
    }
  }
  return lines;
}
