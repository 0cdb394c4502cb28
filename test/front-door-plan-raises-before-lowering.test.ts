import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeStep, planTrafficSteps, type ActualServer, type TrafficStep } from '../src/traffic/haproxy/plan';
import type { DesiredServer } from '../src/traffic/schema';

/**
 * The order of Runtime API steps is what keeps a switch free of failed requests: every server that will
 * serve is added and raised before any server is lowered, and removals (drain, maintenance, delete) come
 * last. Pure decisions, checked without haproxy.
 */

const ready = (name: string, port: number, weight: number): DesiredServer => ({ name, port, weight, state: 'ready' });
const steps = (actual: ActualServer[], desired: DesiredServer[]) => planTrafficSteps(actual, desired).map(describeStep);

test('blue/green in one apply: B is added and enabled before A is lowered', () => {
  assert.deepEqual(steps([ready('a', 9001, 100)], [ready('a', 9001, 0), ready('b', 9002, 100)]), [
    'add server b (127.0.0.1:9002, weight 100, in maintenance until enabled)',
    'server b: maint → ready',
    'server a: weight 100 → 0',
  ]);
});

test('replacing A by B: B serves before A is removed', () => {
  assert.deepEqual(steps([ready('a', 9001, 100)], [ready('b', 9002, 100)]), [
    'add server b (127.0.0.1:9002, weight 100, in maintenance until enabled)',
    'server b: maint → ready',
    'remove server a (drain, maintenance, delete)',
  ]);
});

test('a canary step raises the canary before lowering the stable release', () => {
  const plan = planTrafficSteps(
    [ready('stable', 9001, 75), ready('canary', 9002, 25)],
    [ready('stable', 9001, 50), ready('canary', 9002, 50)],
  );
  assert.deepEqual(plan, [
    { kind: 'setWeight', server: 'canary', weight: 50, from: 25 },
    { kind: 'setWeight', server: 'stable', weight: 50, from: 75 },
  ] satisfies TrafficStep[]);
});

test('a server coming back from maintenance gets its weight before it takes traffic; one leaving gets it after', () => {
  assert.deepEqual(
    steps(
      [
        { name: 'a', port: 9001, weight: 10, state: 'maint' },
        { name: 'b', port: 9002, weight: 100, state: 'ready' },
      ],
      [ready('a', 9001, 100), { name: 'b', port: 9002, weight: 5, state: 'drain' }],
    ),
    ['server a: weight 10 → 100', 'server a: maint → ready', 'server b: ready → drain', 'server b: weight 100 → 5'],
  );
});

test('new servers that start drained or in maintenance never take traffic: added after the raises', () => {
  assert.deepEqual(
    steps([], [{ name: 'm', port: 9003, weight: 1, state: 'maint' }, ready('a', 9001, 1), { name: 'd', port: 9004, weight: 1, state: 'drain' }]),
    [
      'add server a (127.0.0.1:9001, weight 1, in maintenance until enabled)',
      'server a: maint → ready',
      'add server m (127.0.0.1:9003, weight 1, in maintenance until enabled)',
      'add server d (127.0.0.1:9004, weight 1, in maintenance until enabled)',
      'server d: maint → drain',
    ],
  );
});

test('a name bound to a new port is removed and added again, after the other servers are raised', () => {
  assert.deepEqual(steps([ready('a', 9001, 100), ready('b', 9002, 0)], [ready('a', 9005, 100), ready('b', 9002, 100)]), [
    'server b: weight 0 → 100',
    'remove server a (drain, maintenance, delete)',
    'add server a (127.0.0.1:9005, weight 100, in maintenance until enabled)',
    'server a: maint → ready',
  ]);
});

test('what haproxy already has plans nothing', () => {
  const servers: DesiredServer[] = [ready('a', 9001, 0), { name: 'b', port: 9002, weight: 3, state: 'drain' }, { name: 'c', port: 9003, weight: 7, state: 'maint' }];
  assert.deepEqual(planTrafficSteps(servers, servers), []);
});
