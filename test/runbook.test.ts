import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { runDeployctl } from '../src/cli/deployctl';
import type { DryRunCall } from '../src/cli/program';
import { renderRunbook } from '../src/runbook/render';
import { DEPLOY_STATUSES } from '../src/runbook/statuses';
import { loadSpec } from '../src/spec/load';
import { deployInputSchema, type DeploySpec } from '../src/spec/schema';
import { SEARCH_ATTRIBUTE_NAMES } from '../src/workflows/definitions';
import { payloadSchemas } from '../src/client/payload-schemas';
import { findOrBuildTemporalCli } from '../scripts/lib/temporal-cli';

const REPO_ROOT = path.resolve(__dirname, '..');
const SPEC_PATH = 'examples/hello-service/deploy.yaml';
/** The values the committed examples under docs/ were generated with (see the runbook command in each). */
const EXAMPLES = { version: '1.1.0', previous: '1.0.0', knownBad: '2.0.0' };

let spec: DeploySpec;
before(async () => {
  spec = (await loadSpec(SPEC_PATH, REPO_ROOT)).spec;
});

const render = (s: DeploySpec, environment: string) => renderRunbook({ spec: s, environment, specPath: SPEC_PATH, taskQueue: 'deploys', examples: EXAMPLES });

/** A deep copy of the spec with a change applied, re-validated like any spec. */
async function changedSpec(change: (raw: any) => void): Promise<DeploySpec> {
  const raw = JSON.parse(JSON.stringify(spec));
  change(raw);
  return (await loadSpec(raw, REPO_ROOT)).spec;
}

describe('runbook content follows the spec', () => {
  test('production: thresholds with their numbers, the gate and its approvers', () => {
    const md = render(spec, 'production');
    for (const row of [
      '| probe interval | 250 ms |',
      '| analysis window | 15000 ms (at most 60 probes) |',
      '| probe timeout | 1000 ms |',
      '| pass: consecutive successes | 6 |',
      '| pass: minimum success ratio | 0.9 (90% of probes) |',
      '| pass: maximum p95 latency | 500 ms |',
      '| fail fast: consecutive failures | 4 |',
      '| `migrate` | alice, bob | 1 | no | 1 day (then rejected) |',
    ]) {
      assert.ok(md.includes(row), `missing ${row}`);
    }
    assert.match(md, /http:\/\/127\.0\.0\.1:18082\/readyz/);
    assert.match(md, /required config `DATABASE_URL`, `GREETING` present in `\.data\/config\/hello-service\/production\.env`/);
    assert.match(md, /at least 200 MB free/);
    assert.match(md, /lock_timeout 3000 ms and statement_timeout 60000 ms/);
    assert.match(md, /`ME` must be one of alice, bob, and not the requester/);
    for (const heading of ['## What a deploy does', '## Health thresholds', '## Gates and approvers', '## Deploy', '## Approve or reject', '## List deploys', '## Cancel', '## Roll back', '## needs_intervention', '## Rehearse a rollback in staging with a known-bad release']) {
      assert.ok(md.includes(`\n${heading}\n`), `missing section ${heading}`);
    }
  });

  test('production is signed: every request and decision carries --key "$KEY", and no unsigned Temporal CLI command is offered for them', () => {
    const md = render(spec, 'production');
    assert.match(md, /\nKEY=~\/\.ssh\/id_ed25519 /);
    assert.match(md, /listed for `ME` in `examples\/hello-service\/allowed_signers`/);
    const lines = commandLines(md);
    const mustSign = lines.filter((l) => /^npx deployctl (approve|reject|intervene|rollback|deploy) /.test(l) && l.includes(' --env production '));
    assert.ok(mustSign.length >= 12, mustSign.join('\n'));
    for (const line of mustSign) assert.match(line, / --key "\$KEY"/, line);
    for (const print of ['--print-update', '--print']) assert.ok(lines.some((l) => l.startsWith('npx deployctl approve ') && l.endsWith(` ${print}`)), print);
    const unsigned = lines.filter((l) => /^temporal workflow (start|signal|update execute) /.test(l) && /deploy-hello-service-production/.test(l));
    assert.deepEqual(unsigned, []);
  });

  test('staging: no gate, and the page says so', () => {
    const md = render(spec, 'staging');
    assert.match(md, /\| approval \| none: a deploy runs straight through \|/);
    assert.match(md, /`staging` has no approval gate/);
    assert.doesNotMatch(md, /--name approval/);
    assert.doesNotMatch(md, /--key|KEY=/, 'nothing to sign in staging');
  });

  test('the runbook changes when the spec changes', async () => {
    const changed = await changedSpec((raw) => {
      raw.health.maxP95LatencyMs = 750;
      raw.health.maxConsecutiveFailures = 7;
      raw.environments.production.gates[0].approvers = ['carol', 'dave', 'erin'];
      raw.environments.production.gates[0].quorum = 2;
      raw.environments.production.strategy.promoters = ['carol', 'dave'];
      raw.preChecks.minFreeDiskMb = 1024;
    });
    const before = render(spec, 'production');
    const after = render(changed, 'production');
    assert.notEqual(after, before);
    assert.ok(after.includes('| pass: maximum p95 latency | 750 ms |'));
    assert.ok(after.includes('| fail fast: consecutive failures | 7 |'));
    assert.ok(after.includes('| `migrate` | carol, dave, erin | 2 | no | 1 day (then rejected) |'));
    assert.match(after, /at least 1024 MB free/);
    assert.doesNotMatch(after, /alice/);
    // Environment overrides of health win, exactly as in the plan.
    const perEnv = await changedSpec((raw) => (raw.environments.production.health = { maxP95LatencyMs: 123 }));
    assert.ok(render(perEnv, 'production').includes('| pass: maximum p95 latency | 123 ms |'));
    assert.ok(render(perEnv, 'staging').includes('| pass: maximum p95 latency | 500 ms |'));
  });

  test('the committed examples under docs/ are what the command renders today', async () => {
    for (const env of ['staging', 'production', 'fleet']) {
      const file = path.join(REPO_ROOT, `docs/runbook-hello-service-${env}.md`);
      const committed = await fs.readFile(file, 'utf8');
      assert.equal(
        committed,
        render(spec, env),
        `${file} is stale; regenerate: npx tsx src/cli/deployctl.ts runbook ${SPEC_PATH} --env ${env} --example-version 1.1.0 --example-previous 1.0.0 --known-bad 2.0.0 --out docs/runbook-hello-service-${env}.md`,
      );
    }
  });
});

// ---------- every command line in the runbook parses ----------

/** The shell command lines of the ```sh blocks, with backslash-newline continuations joined. */
function commandLines(md: string): string[] {
  const lines: string[] = [];
  for (const block of md.matchAll(/```sh\n([\s\S]*?)```/g)) {
    lines.push(...block[1]!.replace(/\\\n/g, ' ').split('\n').filter((l) => l.trim() !== ''));
  }
  return lines;
}

/**
 * Splits one line into words as POSIX sh would: single quotes literal, double quotes expand $NAME,
 * unquoted $NAME expands, `#` at the start of a word begins a comment. Refuses what it does not model.
 */
function shellWords(line: string, vars: Record<string, string>): string[] {
  const words: string[] = [];
  let word: string | null = null;
  let i = 0;
  const expand = (): string => {
    const m = /^\$(\{[A-Za-z_][A-Za-z0-9_]*\}|[A-Za-z_][A-Za-z0-9_]*)/.exec(line.slice(i));
    if (!m) throw new Error(`unsupported $ at ${i} in: ${line}`);
    i += m[0].length;
    const name = m[1]!.replace(/[{}]/g, '');
    if (!(name in vars)) throw new Error(`$${name} is not set by the runbook (line: ${line})`);
    return vars[name]!;
  };
  while (i < line.length) {
    const c = line[i]!;
    if (/\s/.test(c)) {
      if (word !== null) words.push(word);
      word = null;
      i++;
    } else if (c === '#' && word === null) {
      break;
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unterminated ' in: ${line}`);
      word = (word ?? '') + line.slice(i + 1, end);
      i = end + 1;
    } else if (c === '"') {
      word = word ?? '';
      i++;
      while (line[i] !== '"') {
        if (i >= line.length) throw new Error(`unterminated " in: ${line}`);
        if (line[i] === '$') word += expand();
        else if (line[i] === '\\' && /["\\$`]/.test(line[i + 1] ?? '')) {
          word += line[i + 1];
          i += 2;
        } else word += line[i++];
      }
      i++;
    } else if (c === '$') {
      word = (word ?? '') + expand();
    } else if (/[`;&|<>()]/.test(c)) {
      throw new Error(`runbook lines must be single simple commands; found ${c} in: ${line}`);
    } else {
      word = (word ?? '') + c;
      i++;
    }
  }
  if (word !== null) words.push(word);
  return words;
}

/** `temporal <verbs> --flag value ...` → verbs and flags (every flag the runbook uses takes a value). */
function temporalArgs(words: string[]): { verbs: string[]; flags: Map<string, string> } {
  const verbs: string[] = [];
  let i = 1;
  while (i < words.length && !words[i]!.startsWith('-')) verbs.push(words[i++]!);
  const flags = new Map<string, string>();
  for (; i < words.length; i += 2) {
    const flag = words[i]!;
    assert.match(flag, /^--[a-z-]+$/, `expected a --flag in: ${words.join(' ')}`);
    assert.ok(i + 1 < words.length, `${flag} needs a value in: ${words.join(' ')}`);
    assert.ok(!flags.has(flag), `${flag} given twice`);
    flags.set(flag, words[i + 1]!);
  }
  return { verbs, flags };
}

const helpCache = new Map<string, Promise<string>>();
async function temporalHelp(cli: string, verbs: string[]): Promise<string> {
  const key = verbs.join(' ');
  if (!helpCache.has(key)) helpCache.set(key, promisify(execFile)(cli, [...verbs, '--help']).then((r) => r.stdout));
  return helpCache.get(key)!;
}

/** Checks one `temporal` line against the contract: names, payloads, and flags the real CLI knows. */
async function checkTemporalLine(cli: string, words: string[], s: DeploySpec): Promise<void> {
  const line = words.join(' ');
  const { verbs, flags } = temporalArgs(words);
  const allowed = ['workflow start', 'workflow signal', 'workflow query', 'workflow update execute', 'workflow list', 'workflow cancel', 'workflow describe', 'workflow show', 'workflow result', 'task-queue describe'];
  assert.ok(allowed.includes(verbs.join(' ')), `unexpected temporal command: ${line}`);
  const help = await temporalHelp(cli, verbs);
  for (const flag of flags.keys()) assert.ok(help.includes(flag), `temporal ${verbs.join(' ')} has no ${flag} (from: ${line})`);

  const ids = Object.keys(s.environments).map((e) => `deploy-${s.service}-${e}`);
  if (verbs[0] === 'task-queue') {
    // A fleet host's agent: deploys-host-<host> of a host the spec lists.
    const hosts = Object.values(s.environments).flatMap((e) => ('hosts' in e.target ? e.target.hosts.map((h) => h.name) : []));
    assert.ok(hosts.map((h) => `deploys-host-${h}`).includes(flags.get('--task-queue') ?? ''), `not a host agent's task queue: ${line}`);
    return;
  }
  // A fleet's batch and host child workflows: <deploy lock ID>/batch-<n>[/host-<host>].
  const id = (flags.get('--workflow-id') ?? '').replace(/\/batch-\d+(\/host-[a-z0-9-]+)?$/, '');
  if (verbs[1] !== 'list') assert.ok(ids.includes(id), `workflow ID is not a deploy lock ID: ${line}`);
  const input = flags.has('--input') ? JSON.parse(flags.get('--input')!) : undefined;
  switch (verbs.slice(1).join(' ')) {
    case 'start': {
      assert.equal(flags.get('--type'), 'deployRelease');
      assert.equal(flags.get('--task-queue'), 'deploys');
      const parsed = deployInputSchema.parse(input);
      assert.equal(parsed.spec, SPEC_PATH);
      assert.equal(flags.get('--workflow-id'), `deploy-${s.service}-${parsed.environment}`);
      break;
    }
    case 'signal': {
      const schema = payloadSchemas[flags.get('--name') as 'approve' | 'reject' | 'intervene'];
      assert.ok(schema, `signal name not in the contract: ${line}`);
      schema.parse(input);
      break;
    }
    case 'update execute':
      assert.equal(flags.get('--name'), 'approval');
      payloadSchemas.approval.parse(input);
      break;
    case 'query':
      assert.equal(flags.get('--name'), 'status');
      break;
    case 'show':
      if (id === flags.get('--workflow-id')) assert.equal(flags.get('--output'), 'json');
      break;
    case 'list': {
      const query = flags.get('--query')!;
      const terms = query.split(' AND ');
      for (const term of terms) {
        const m = /^([A-Za-z]+)="([^"]*)"$/.exec(term);
        assert.ok(m, `unexpected query term ${term}`);
        assert.ok((SEARCH_ATTRIBUTE_NAMES as readonly string[]).includes(m[1]!), `${m[1]} is not a contract search attribute`);
        if (m[1] === 'DeployStatus') assert.ok((DEPLOY_STATUSES as string[]).includes(m[2]!), `${m[2]} is not a DeployStatus value`);
        if (m[1] === 'DeployService') assert.equal(m[2], s.service);
        if (m[1] === 'DeployEnvironment') assert.ok(m[2]! in s.environments);
      }
      break;
    }
  }
}

describe('every command line in the runbook parses', () => {
  for (const environment of ['staging', 'production', 'fleet']) {
    test(`${environment}: deployctl lines are accepted by the program (dry run), temporal lines use the contract's names and real flags`, async () => {
      const cli = await findOrBuildTemporalCli();
      const md = render(spec, environment);
      const vars: Record<string, string> = { USER: 'carol' };
      const counts = { deployctl: 0, temporal: 0, other: 0 };
      for (const line of commandLines(md)) {
        let words = shellWords(line, vars);
        if (words.length === 0) continue;
        if (words[0] === 'export') words = words.slice(1);
        if (words.every((w) => /^[A-Z_][A-Z0-9_]*=/.test(w))) {
          for (const w of words) vars[w.slice(0, w.indexOf('='))] = w.slice(w.indexOf('=') + 1);
          continue;
        }
        if (words[0] === 'npx') {
          assert.equal(words[1], 'deployctl', line);
          const calls: DryRunCall[] = [];
          const err: string[] = [];
          let code = -1;
          await runDeployctl(words.slice(2), {
            io: { out: () => undefined, err: (t) => err.push(t), isTTY: false, rewrite: () => undefined },
            env: { USER: 'carol' },
            cwd: REPO_ROOT,
            dryRun: (c) => calls.push(c),
            setExitCode: (c) => (code = c),
          });
          assert.equal(code, 0, `deployctl refused a runbook line: ${line}\n${err.join('\n')}`);
          if (words[2] !== 'lint-migrations') assert.equal(calls.length, 1, line);
          counts.deployctl++;
        } else if (words[0] === 'temporal') {
          await checkTemporalLine(cli, words, spec);
          counts.temporal++;
        } else if (words[0] === 'npm') {
          // npm run <script>: a script of this repository (a fleet's host agent).
          const scripts = JSON.parse(await fs.readFile(path.join(REPO_ROOT, 'package.json'), 'utf8')).scripts as Record<string, string>;
          assert.ok(words[1] === 'run' && words[2]! in scripts, `the runbook runs an npm script this repository does not have: ${line}`);
          counts.other++;
        } else {
          assert.ok(['curl', 'ls', 'cat', 'node'].includes(words[0]!), `unexpected command in the runbook: ${line}`);
          counts.other++;
        }
      }
      // production's requests and decisions are signed: its Temporal CLI commands for them come from deployctl --print
      assert.ok(counts.deployctl >= (environment === 'production' ? 20 : 10), JSON.stringify(counts));
      assert.ok(counts.temporal >= 10, JSON.stringify(counts));
    });
  }

  test('the dry run really validates: a runbook line with a bad value is refused', async () => {
    let code = -1;
    const err: string[] = [];
    await runDeployctl(['deploy', SPEC_PATH, '--env', 'staging', '--version', '', '--by', 'carol'], {
      io: { out: () => undefined, err: (t) => err.push(t), isTTY: false, rewrite: () => undefined },
      env: {},
      cwd: REPO_ROOT,
      dryRun: () => undefined,
      setExitCode: (c) => (code = c),
    });
    assert.equal(code, 2);
    assert.match(err.join('\n'), /--version: "" must be/);
  });

  test('without example values the variables are empty, so a pasted command fails on --version instead of shipping something', () => {
    const md = renderRunbook({ spec, environment: 'staging', specPath: SPEC_PATH, taskQueue: 'deploys' });
    assert.match(md, /\nVERSION= +# the release to ship/);
    assert.match(md, /\nBAD_VERSION= +# a release known to fail/);
  });
});
