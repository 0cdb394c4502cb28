import assert from 'node:assert/strict';
import { promises as fs, existsSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { FrontDoor, startLoad, type FrontDoorStatus } from '../src/traffic';
import { haproxyForTests, skipWithout, TrafficWorld, waitFor, type VersionServer } from './helpers/traffic';
import { processAlive } from '../src/traffic/processes';

/**
 * A front door comes back as it was recorded: after haproxy is killed with SIGKILL, after a crash between
 * recording a change and applying it, and when it is asked to do what it already did (a no-op).
 */

let skipReason: string | undefined;
const world = new TrafficWorld();
let a: VersionServer;
let b: VersionServer;
let c: VersionServer;

before(async () => {
  const haproxy = await haproxyForTests();
  if ('skip' in haproxy) {
    skipReason = haproxy.skip;
    return;
  }
  [a, b, c] = [await world.versionServer('A'), await world.versionServer('B'), await world.versionServer('C')];
});

after(() => world.cleanup());

function body(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve(`${res.statusCode} ${text}`));
    });
    req.setTimeout(10_000, () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}

/** The servers as haproxy reports them, in a stable order, without the moving session counts. */
function served(status: FrontDoorStatus): Array<[string, number, number, string]> {
  return status.servers.map((s): [string, number, number, string] => [s.name, s.port, s.weight, s.state]).sort();
}

async function killHaproxy(door: FrontDoor): Promise<number> {
  const { pid } = await door.status();
  assert.ok(pid, 'haproxy runs before the kill');
  process.kill(pid, 'SIGKILL');
  await waitFor(`haproxy pid ${pid} to be gone`, async () => !(await processAlive(pid)));
  return pid;
}

test('after kill -9 of haproxy, ensureRunning brings it back with the recorded weights and states, and a second call changes nothing', async (t) => {
  if (skipWithout(t, skipReason)) return;
  const door = await world.frontDoor();
  const desired = {
    servers: [
      { name: 'a', port: a.port, weight: 30 },
      { name: 'b', port: b.port, weight: 70 },
      { name: 'c', port: c.port, weight: 10, state: 'maint' as const },
    ],
  };
  const before = await door.apply(desired);
  const expected: Array<[string, number, number, string]> = [
    ['a', a.port, 30, 'ready'],
    ['b', b.port, 70, 'ready'],
    ['c', c.port, 10, 'maint'],
  ];
  assert.deepEqual(served(before), expected);

  // Clients keep sending through the kill and the restart; requests sent once it is back must all succeed.
  const load = startLoad({ url: `http://127.0.0.1:${door.publicPort}/`, ratePerSecond: 100, concurrency: 8, durationMs: 300_000, requestTimeoutMs: 5_000 });
  load.phase('outage');
  const killed = await killHaproxy(door);
  assert.ok(existsSync(door.files.socket), 'the killed haproxy left its socket file behind');
  assert.equal((await fs.readFile(door.files.pidFile, 'utf8')).trim(), String(killed), 'the pidfile still names the killed process');
  const down = await door.status();
  assert.equal(down.running, false, 'a stale socket and a dead pid are not a running front door');
  await assert.rejects(body(door.publicPort), 'nothing serves the public port while haproxy is dead');

  const recordBefore = await fs.readFile(door.files.stateFile, 'utf8');
  const restored = await door.ensureRunning();
  assert.equal(restored.running, true);
  assert.notEqual(restored.pid, killed, 'a new haproxy process');
  assert.deepEqual(served(restored), expected, 'the recorded weights and states are back');
  assert.equal(restored.matchesRecorded, true);
  assert.match(await body(door.publicPort), /^200 [AB]$/, 'the public port answers from A or B (C is in maintenance)');
  load.phase('restored');
  await waitFor('answers from A and B after the restart', async () => {
    const p = load.snapshot().phases.restored;
    return p !== undefined && p.answered >= 100 && (p.byBody.A ?? 0) > 0 && (p.byBody.B ?? 0) > 0;
  });
  const restoredPhase = (await load.stop()).phases.restored!;
  assert.equal(restoredPhase.failed, 0, `no failed request once haproxy is back: ${JSON.stringify(restoredPhase)}`);
  assert.deepEqual(Object.keys(restoredPhase.byBody).sort(), ['A', 'B'], 'A and B serve again, C stays in maintenance');

  const stepsBefore = world.progress.length;
  const logBefore = await fs.readFile(door.files.log, 'utf8');
  const again = await door.ensureRunning();
  assert.equal(again.pid, restored.pid, 'the running haproxy is kept');
  assert.deepEqual(served(again), expected, 'same state');
  assert.deepEqual(world.progress.slice(stepsBefore), [], 'the second ensureRunning carried out no step');
  assert.equal(await fs.readFile(door.files.log, 'utf8'), logBefore, 'haproxy logged no change');
  assert.equal(await fs.readFile(door.files.stateFile, 'utf8'), recordBefore, 'the record was not rewritten');
});

test('an apply while haproxy is dead starts it with the new desired state', async (t) => {
  if (skipWithout(t, skipReason)) return;
  const door = await world.frontDoor();
  await door.apply({ servers: [{ name: 'a', port: a.port, weight: 100 }] });
  await killHaproxy(door);

  const status = await door.apply({ servers: [{ name: 'a', port: a.port, weight: 0 }, { name: 'b', port: b.port, weight: 100 }] });
  assert.deepEqual(served(status), [
    ['a', a.port, 0, 'ready'],
    ['b', b.port, 100, 'ready'],
  ]);
  assert.equal(await body(door.publicPort), '200 B');
});

test('a change recorded but not applied (a worker crash right after recording) is finished by ensureRunning', async (t) => {
  if (skipWithout(t, skipReason)) return;
  const door = await world.frontDoor();
  await door.apply({ servers: [{ name: 'a', port: a.port, weight: 100 }, { name: 'c', port: c.port, weight: 50 }] });
  // What apply writes before it touches haproxy, as a worker killed right after that write leaves it.
  const record = JSON.parse(await fs.readFile(door.files.stateFile, 'utf8')) as { servers: unknown[] };
  record.servers = [
    { name: 'a', port: a.port, weight: 0, state: 'drain' },
    { name: 'b', port: b.port, weight: 100, state: 'ready' },
  ];
  await fs.writeFile(door.files.stateFile, JSON.stringify(record));

  const status = await door.ensureRunning();
  assert.deepEqual(served(status), [
    ['a', a.port, 0, 'drain'],
    ['b', b.port, 100, 'ready'],
  ]);
  assert.equal(await body(door.publicPort), '200 B');
});

test('applying the same desired state again is a no-op: no Runtime API change, same process, same state', async (t) => {
  if (skipWithout(t, skipReason)) return;
  const door = await world.frontDoor();
  const desired = {
    servers: [
      { name: 'a', port: a.port, weight: 0 },
      { name: 'b', port: b.port, weight: 100 },
      { name: 'c', port: c.port, weight: 5, state: 'drain' as const },
    ],
  };
  const first = await door.apply(desired);
  const stepsBefore = world.progress.length;
  const logBefore = await fs.readFile(door.files.log, 'utf8');
  const recordBefore = await fs.readFile(door.files.stateFile, 'utf8');

  const second = await door.apply(desired);
  const third = await door.apply(desired);
  assert.equal(second.pid, first.pid);
  assert.equal(third.pid, first.pid);
  assert.deepEqual(served(second), served(first));
  assert.deepEqual(served(third), served(first));
  assert.deepEqual(world.progress.slice(stepsBefore), [], 'no step was carried out');
  assert.equal(await fs.readFile(door.files.log, 'utf8'), logBefore, 'haproxy logged no change');
  assert.equal(await fs.readFile(door.files.stateFile, 'utf8'), recordBefore, 'the record was not rewritten');
});

test('stop ends haproxy and keeps the record; ensureRunning serves it again', async (t) => {
  if (skipWithout(t, skipReason)) return;
  const door = await world.frontDoor();
  await door.apply({ servers: [{ name: 'b', port: b.port, weight: 100 }] });
  const { pid } = await door.status();
  await door.stop({ graceMs: 2_000 });
  assert.equal(await processAlive(pid!), false, 'haproxy is gone');
  assert.equal(existsSync(door.files.pidFile), false);
  assert.equal((await door.status()).running, false);
  assert.deepEqual((await door.recorded())!.map((s) => s.name), ['b'], 'the record stays');

  const back = await door.ensureRunning();
  assert.deepEqual(served(back), [['b', b.port, 100, 'ready']]);
  assert.equal(await body(door.publicPort), '200 B');
});

test('a public port held by another process fails the start with haproxy\'s reason and the fix, and leaves nothing running', async (t) => {
  if (skipWithout(t, skipReason)) return;
  const holder = net.createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  try {
    const port = (holder.address() as net.AddressInfo).port;
    const door = await world.frontDoor({ publicPort: port });
    await assert.rejects(door.ensureRunning(), (err: Error) => {
      assert.match(err.message, new RegExp(`front door test-front-door could not start on 127\\.0\\.0\\.1:${port}\\. Port ${port} is held by another process`));
      assert.match(err.message, /cannot bind socket \(Address already in use\)/, 'haproxy\'s own words are quoted');
      return true;
    });
    const status = await door.status();
    assert.equal(status.running, false);
    assert.equal(existsSync(door.files.pidFile), false, 'no pidfile names a haproxy that is not running');
  } finally {
    holder.close();
  }
});

test('concurrent applies from two front door objects on one directory take turns: haproxy ends exactly as the last record says', async (t) => {
  if (skipWithout(t, skipReason)) return;
  const door = await world.frontDoor();
  await door.apply({ servers: [{ name: 'a', port: a.port, weight: 100 }] });
  const twin = new FrontDoor({ name: door.name, publicPort: door.publicPort, directory: door.files.directory });
  const desiredSets = [
    { servers: [{ name: 'a', port: a.port, weight: 0 }, { name: 'b', port: b.port, weight: 100 }] },
    { servers: [{ name: 'c', port: c.port, weight: 100 }] },
    { servers: [{ name: 'a', port: a.port, weight: 10 }, { name: 'c', port: c.port, weight: 90, state: 'drain' as const }] },
  ];
  await Promise.all(desiredSets.flatMap((d, i) => [door.apply(d), twin.apply(desiredSets[(i + 1) % desiredSets.length]!)]));
  const status = await door.status();
  assert.equal(status.matchesRecorded, true, `haproxy matches the record: ${JSON.stringify(status)}`);
  assert.equal((await twin.status()).pid, status.pid, 'one haproxy');
  assert.equal(existsSync(door.files.lockFile), false, 'the lock was released');
});
