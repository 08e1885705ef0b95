import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkpointVersion, parseCheckpoint, planRun, type RunCheckpoint, type RunInfo, type RunPlan } from '../../../shared/internal';

const fields = ['id', 'displayName', 'mail'] as const;
const deltaLink = 'https://graph.microsoft.com/v1.0/users/delta?$deltatoken=saved-token';
const invocation: RunInfo = { runId: 'run-new', runAt: new Date('2025-03-02T06:00:00.000Z') };

/** A complete checkpoint: by default the finished delta changes run "run-old", everything a finished run keeps. */
function checkpoint(changes: Partial<RunCheckpoint> = {}): RunCheckpoint {
  return {
    version: checkpointVersion,
    status: 'finished',
    runId: 'run-old',
    runAt: '2025-03-01T06:00:00.000Z',
    mode: 'delta',
    fields: [...fields],
    kind: 'changes',
    snapshotReason: null,
    walk: 1,
    nextLink: null,
    walkDone: true,
    deltaNext: null,
    deltaLink,
    deltaFields: [...fields],
    scope: null,
    deltaScope: null,
    members: null,
    membersNext: null,
    partitions: null,
    pendingRemovals: [],
    removals: 0,
    pages: 3,
    users: 240,
    messages: 240,
    snapshots: 0,
    upserts: 240,
    knownUsers: 2500,
    allowanceUsed: { value: 750, runId: 'run-older' },
    heldRemovals: null,
    attempts: 1,
    updatedAt: '2025-03-01T06:05:00.000Z',
    ...changes,
  };
}

/** A delta changes run that stopped after page 4 of its second walk, with removals pending. */
function running(changes: Partial<RunCheckpoint> = {}): RunCheckpoint {
  return checkpoint({
    status: 'running',
    walk: 2,
    nextLink: 'https://graph.microsoft.com/v1.0/users/delta?$skiptoken=page-5',
    walkDone: false,
    pendingRemovals: [
      { id: 'u-1', reason: 'deleted', sequence: 2_000_000_003 },
      { id: 'u-2', reason: 'deleted', sequence: 2_000_000_017 },
    ],
    removals: 2,
    pages: 4,
    users: 380,
    messages: 512,
    snapshots: 0,
    upserts: 378,
    attempts: 2,
    ...changes,
  });
}

/** A delta changes run the mass-deletion guard held back. */
function held(changes: Partial<RunCheckpoint> = {}): RunCheckpoint {
  return checkpoint({
    status: 'held',
    walk: 1,
    walkDone: false,
    removals: 900,
    pages: 12,
    users: 1400,
    messages: 500,
    upserts: 500,
    heldRemovals: 900,
    attempts: 1,
    ...changes,
  });
}

const noProgress = { pages: 0, entries: 0, snapshots: 0, upserts: 0, removals: 0 };

function assertNewRun(plan: RunPlan): void {
  assert.equal(plan.run, invocation);
  assert.equal(plan.resumed, false);
  assert.equal(plan.resumedAtPage, undefined);
  assert.equal(plan.attempts, 1);
  assert.equal(plan.walk, 1);
  assert.equal(plan.nextLink, undefined);
  assert.equal(plan.walkDone, false);
  assert.equal(plan.deltaNext, null);
  assert.deepEqual(plan.progress, noProgress);
  assert.equal(plan.messages, 0);
  assert.deepEqual(plan.pending, []);
}

describe('planRun: no unfinished run', () => {
  it('without a checkpoint, delta mode starts with a snapshot (first-delta) and full mode with a full-mode snapshot', () => {
    const delta = planRun(undefined, invocation, { mode: 'delta', fields });
    assertNewRun(delta);
    assert.equal(delta.mode, 'delta');
    assert.equal(delta.sends, 'snapshot');
    assert.equal(delta.snapshotReason, 'first-delta');
    assert.deepEqual(delta.watermark, { deltaLink: null, deltaFields: null, deltaScope: null, members: null, knownUsers: null, allowanceUsed: null });
    assert.deepEqual(delta.notices, []);

    const full = planRun(undefined, invocation, { mode: 'full', fields });
    assertNewRun(full);
    assert.equal(full.mode, 'full');
    assert.equal(full.sends, 'snapshot');
    assert.equal(full.snapshotReason, 'full-mode');
  });

  it('after a finished delta run with the same fields, reads the changes under the new runId, carrying the watermark', () => {
    const found = checkpoint();
    const plan = planRun(found, invocation, { mode: 'delta', fields });
    assertNewRun(plan);
    assert.equal(plan.sends, 'changes');
    assert.equal(plan.snapshotReason, null);
    assert.equal(plan.run.runId, 'run-new');
    assert.deepEqual(plan.watermark, {
      deltaLink,
      deltaFields: [...fields],
      deltaScope: null,
      members: null,
      knownUsers: 2500,
      allowanceUsed: { value: 750, runId: 'run-older' },
    });
    assert.deepEqual(plan.notices, []);
  });

  it('a finished delta run without a delta link (e.g. after full mode) starts a first-delta snapshot', () => {
    const plan = planRun(checkpoint({ mode: 'full', kind: 'snapshot', snapshotReason: 'full-mode', deltaLink: null, deltaFields: null }), invocation, {
      mode: 'delta',
      fields,
    });
    assert.equal(plan.sends, 'snapshot');
    assert.equal(plan.snapshotReason, 'first-delta');
    assert.equal(plan.watermark.knownUsers, 2500);
  });

  it('--full in delta mode sends a requested snapshot and keeps the watermark', () => {
    const plan = planRun(checkpoint(), invocation, { mode: 'delta', fields, forceFull: true });
    assertNewRun(plan);
    assert.equal(plan.sends, 'snapshot');
    assert.equal(plan.snapshotReason, 'requested');
    assert.equal(plan.watermark.deltaLink, deltaLink);
    assert.deepEqual(plan.watermark.deltaFields, [...fields]);
    assert.equal(plan.watermark.knownUsers, 2500);
    assert.deepEqual(plan.watermark.allowanceUsed, { value: 750, runId: 'run-older' });
  });

  it('USER_FIELDS other than the delta link selects: a requested snapshot, with a notice naming USER_FIELDS', () => {
    for (const [saved, now] of [
      [
        ['id', 'displayName', 'mail'],
        ['id', 'displayName', 'mail', 'jobTitle'],
      ],
      [
        ['id', 'displayName', 'mail'],
        ['id', 'mail'],
      ],
    ] as const) {
      const plan = planRun(checkpoint({ deltaFields: saved }), invocation, { mode: 'delta', fields: now });
      assertNewRun(plan);
      assert.equal(plan.sends, 'snapshot', `${saved.join(',')} -> ${now.join(',')}`);
      assert.equal(plan.snapshotReason, 'requested');
      assert.equal(plan.notices.length, 1);
      assert.match(plan.notices[0] ?? '', /^USER_FIELDS changed/);
      assert.ok(plan.notices[0]?.includes(saved.join(',')), plan.notices[0]);
      assert.equal(plan.watermark.deltaLink, deltaLink);
    }
    // A delta link of unknown fields is treated as different.
    const unknown = planRun(checkpoint({ deltaFields: null }), invocation, { mode: 'delta', fields });
    assert.equal(unknown.sends, 'snapshot');
    assert.equal(unknown.snapshotReason, 'requested');
    assert.match(unknown.notices[0] ?? '', /USER_FIELDS.*unknown fields/);
  });

  it('full mode after a finished delta run: a full-mode snapshot that keeps the delta link', () => {
    const plan = planRun(checkpoint(), invocation, { mode: 'full', fields });
    assertNewRun(plan);
    assert.equal(plan.sends, 'snapshot');
    assert.equal(plan.snapshotReason, 'full-mode');
    assert.equal(plan.watermark.deltaLink, deltaLink);
  });
});

describe('planRun: an unfinished run', () => {
  it('resumes a running run in the same mode: same run, next attempt, its position, progress and pending removals', () => {
    const found = running();
    const plan = planRun(found, invocation, { mode: 'delta', fields });
    assert.equal(plan.resumed, true);
    assert.equal(plan.run.runId, 'run-old');
    assert.equal(plan.run.runAt.toISOString(), '2025-03-01T06:00:00.000Z');
    assert.equal(plan.attempts, 3);
    assert.equal(plan.resumedAtPage, 5);
    assert.equal(plan.mode, 'delta');
    assert.equal(plan.sends, 'changes');
    assert.equal(plan.snapshotReason, null);
    assert.equal(plan.walk, 2);
    assert.equal(plan.nextLink, 'https://graph.microsoft.com/v1.0/users/delta?$skiptoken=page-5');
    assert.equal(plan.walkDone, false);
    assert.deepEqual(plan.progress, { pages: 4, entries: 380, snapshots: 0, upserts: 378, removals: 2 });
    assert.equal(plan.messages, 512);
    assert.deepEqual(plan.pending, found.pendingRemovals);
    assert.equal(plan.watermark.deltaLink, deltaLink);
    assert.equal(plan.notices.length, 1);
    const [notice = ''] = plan.notices;
    assert.match(notice, /^Resuming run run-old \(started 2025-03-01T06:00:00\.000Z, attempt 3\) at page 5: 512 messages were accepted/);
  });

  it('resumes a running snapshot, keeping its reason and its delta link not yet committed', () => {
    const found = running({
      kind: 'snapshot',
      snapshotReason: 'first-delta',
      deltaLink: null,
      deltaFields: null,
      deltaNext: null,
      pendingRemovals: [],
      removals: 0,
      snapshots: 380,
      upserts: 0,
      messages: 1,
      attempts: 1,
    });
    const plan = planRun(found, invocation, { mode: 'delta', fields });
    assert.equal(plan.resumed, true);
    assert.equal(plan.sends, 'snapshot');
    assert.equal(plan.snapshotReason, 'first-delta');
    assert.equal(plan.attempts, 2);
    assert.match(plan.notices[0] ?? '', /1 message was accepted/);
  });

  it('resumes a running run whose walk was done "after its last page", with its delta link for the finish', () => {
    const found = running({ nextLink: null, walkDone: true, deltaNext: 'https://graph.microsoft.com/v1.0/users/delta?$deltatoken=next', pages: 7 });
    const plan = planRun(found, invocation, { mode: 'delta', fields });
    assert.equal(plan.resumed, true);
    assert.equal(plan.walkDone, true);
    assert.equal(plan.nextLink, undefined);
    assert.equal(plan.deltaNext, 'https://graph.microsoft.com/v1.0/users/delta?$deltatoken=next');
    assert.equal(plan.resumedAtPage, 8);
    assert.match(plan.notices[0] ?? '', /^Resuming run run-old .* after its last page:/);
    assert.doesNotMatch(plan.notices[0] ?? '', /at page/);
  });

  it('resumes a running full-mode run in full mode', () => {
    const found = running({
      mode: 'full',
      kind: 'snapshot',
      snapshotReason: 'full-mode',
      nextLink: 'https://graph.microsoft.com/v1.0/users?$skiptoken=p3',
      pendingRemovals: [],
      removals: 0,
      pages: 2,
    });
    const plan = planRun(found, invocation, { mode: 'full', fields });
    assert.equal(plan.resumed, true);
    assert.equal(plan.run.runId, 'run-old');
    assert.equal(plan.sends, 'snapshot');
    assert.equal(plan.snapshotReason, 'full-mode');
    assert.equal(plan.nextLink, 'https://graph.microsoft.com/v1.0/users?$skiptoken=p3');
    assert.equal(plan.resumedAtPage, 3);
  });

  it('walks a held run again from the delta link: same run, next walk, no progress, messages carried', () => {
    const found = held();
    const plan = planRun(found, invocation, { mode: 'delta', fields });
    assert.equal(plan.resumed, true);
    assert.equal(plan.run.runId, 'run-old');
    assert.equal(plan.run.runAt.toISOString(), '2025-03-01T06:00:00.000Z');
    assert.equal(plan.resumedAtPage, 1);
    assert.equal(plan.attempts, 2);
    assert.equal(plan.walk, 2);
    assert.equal(plan.sends, 'changes');
    assert.equal(plan.snapshotReason, null);
    assert.equal(plan.nextLink, undefined);
    assert.equal(plan.walkDone, false);
    assert.equal(plan.deltaNext, null);
    assert.deepEqual(plan.progress, noProgress);
    assert.deepEqual(plan.pending, []);
    assert.equal(plan.messages, 500);
    assert.equal(plan.watermark.deltaLink, deltaLink);
    assert.deepEqual(plan.watermark.allowanceUsed, { value: 750, runId: 'run-older' });
    assert.equal(plan.notices.length, 1);
    assert.match(plan.notices[0] ?? '', /^Run run-old was held back by the mass-deletion guard \(900 removals\);.*attempt 2, same runId/);
  });

  it('walks a held snapshot (its sweep was held) again from the first page, same run, same reason, whatever the delta link', () => {
    for (const mode of ['delta', 'full'] as const) {
      const plan = planRun(
        held({ mode, kind: 'snapshot', snapshotReason: mode === 'full' ? 'full-mode' : 'resync', deltaLink: null, heldRemovals: 40 }),
        invocation,
        { mode, fields },
      );
      assert.deepEqual(
        [plan.resumed, plan.run.runId, plan.sends, plan.snapshotReason, plan.walk, plan.nextLink],
        [true, 'run-old', 'snapshot', mode === 'full' ? 'full-mode' : 'resync', 2, undefined],
        mode,
      );
      assert.match(plan.notices[0] ?? '', /held back by the mass-deletion guard \(40 removals\); it reads every user again/);
    }
  });

  it('does not carry on an unfinished run when SYNC_MODE changed, or a full run is asked for: a new snapshot covers it', () => {
    const cases: [string, RunCheckpoint, { mode: 'delta' | 'full'; forceFull?: boolean }, 'full-mode' | 'requested', RegExp][] = [
      [
        'running delta, now full',
        running(),
        { mode: 'full' },
        'full-mode',
        /^The unfinished run run-old \(delta mode\) is not carried on: SYNC_MODE is now full;/,
      ],
      [
        'running delta, --full',
        running(),
        { mode: 'delta', forceFull: true },
        'requested',
        /^The unfinished run run-old \(delta mode\) is not carried on: a full run was asked for;/,
      ],
      [
        'running full, now delta',
        running({ mode: 'full', kind: 'snapshot', snapshotReason: 'full-mode' }),
        { mode: 'delta' },
        'requested',
        /^The unfinished run run-old \(full mode\) is not carried on: SYNC_MODE is now delta;/,
      ],
      [
        'running full, --full',
        running({ mode: 'full', kind: 'snapshot', snapshotReason: 'full-mode' }),
        { mode: 'full', forceFull: true },
        'full-mode',
        /^The unfinished run run-old \(full mode\) is not carried on: a full run was asked for;/,
      ],
      ['held delta, now full', held(), { mode: 'full' }, 'full-mode', /^The held run run-old \(delta mode\) is not carried on: SYNC_MODE is now full;/],
      [
        'held delta, --full',
        held(),
        { mode: 'delta', forceFull: true },
        'requested',
        /^The held run run-old \(delta mode\) is not carried on: a full run was asked for;/,
      ],
    ];
    for (const [name, found, options, reason, notice] of cases) {
      const plan = planRun(found, invocation, { ...options, fields });
      assertNewRun(plan);
      assert.equal(plan.run.runId, 'run-new', name);
      assert.equal(plan.mode, options.mode, name);
      assert.equal(plan.sends, 'snapshot', name);
      assert.equal(plan.snapshotReason, reason, name);
      assert.equal(plan.notices.length, 1, name);
      assert.match(plan.notices[0] ?? '', notice, name);
      assert.match(plan.notices[0] ?? '', /sends a full snapshot instead/, name);
      // The watermark outlives the dropped run.
      assert.equal(plan.watermark.deltaLink, deltaLink, name);
      assert.equal(plan.watermark.knownUsers, 2500, name);
    }
  });

  it('full mode never reads changes, whatever it finds', () => {
    const found: (RunCheckpoint | undefined)[] = [
      undefined,
      checkpoint(),
      checkpoint({ mode: 'full', kind: 'snapshot', snapshotReason: 'full-mode' }),
      running(),
      running({ mode: 'full', kind: 'snapshot', snapshotReason: 'full-mode' }),
      held(),
    ];
    for (const cp of found) {
      for (const forceFull of [false, true]) {
        const plan = planRun(cp, invocation, { mode: 'full', fields, forceFull });
        assert.equal(plan.sends, 'snapshot', `${cp?.status ?? 'none'} ${cp?.mode ?? ''} forceFull=${forceFull}`);
        assert.equal(plan.mode, 'full');
        assert.equal(plan.snapshotReason, 'full-mode');
      }
    }
  });

  // The held run's delta link selects the fields it was issued with; reading its changes again
  // after USER_FIELDS changed sends the old fields, and the run then records the link as selecting
  // the new ones (shared/run/sync.ts: finished.deltaFields = settings.userFields), so no later run
  // notices. A new run in the same state gets a snapshot instead (see the USER_FIELDS test above).
  it('a held run is not walked again from a delta link that selects other USER_FIELDS', () => {
    const plan = planRun(held({ deltaFields: ['id', 'displayName'] }), invocation, { mode: 'delta', fields: ['id', 'displayName', 'mail'] });
    assert.equal(plan.sends, 'snapshot');
    assert.ok(
      plan.notices.some((n) => n.includes('USER_FIELDS')),
      plan.notices.join('\n'),
    );
  });

  it('an unfinished run whose USER_FIELDS changed is not resumed: its page links keep the old $select; a new snapshot instead', () => {
    for (const mode of ['delta', 'full'] as const) {
      const plan = planRun(running({ mode }), invocation, { mode, fields: [...fields, 'jobTitle'] });
      assert.deepEqual([plan.resumed, plan.run.runId, plan.sends], [false, 'run-new', 'snapshot'], mode);
      assert.ok(
        plan.notices.some((n) => /is not carried on: USER_FIELDS changed since it started/.test(n)),
        plan.notices.join('\n'),
      );
    }
  });
});

describe('parseCheckpoint', () => {
  const complete = running({
    deltaNext: 'https://graph.microsoft.com/v1.0/users/delta?$deltatoken=next',
    heldRemovals: 3,
    allowanceUsed: { value: 750, runId: 'run-older' },
  });

  it('reads back what was written, whole', () => {
    for (const cp of [
      complete,
      checkpoint(),
      held(),
      checkpoint({ deltaLink: null, deltaFields: null, knownUsers: null, allowanceUsed: null, kind: 'snapshot', snapshotReason: 'resync' }),
    ]) {
      assert.deepEqual(parseCheckpoint(JSON.stringify(cp)), cp);
    }
  });

  it('refuses what is not a complete checkpoint of this version', () => {
    const v2Only = ['pendingRemovals', 'deltaFields', 'allowanceUsed', 'heldRemovals'];
    const withoutV2Fields = Object.fromEntries(Object.entries(complete).filter(([key]) => !v2Only.includes(key)));
    const cases: [string, unknown][] = [
      ['version 1', { ...complete, version: 1 }],
      ['version 1 shape', { ...withoutV2Fields, version: 1 }],
      ['without the version 2 fields', withoutV2Fields],
      ['bad status', { ...complete, status: 'paused' }],
      ['pending removal without id', { ...complete, pendingRemovals: [{ reason: 'deleted', sequence: 3 }] }],
      ['pending removal with a numeric id', { ...complete, pendingRemovals: [{ id: 7, reason: 'deleted', sequence: 3 }] }],
      ['allowanceUsed value as a string', { ...complete, allowanceUsed: { value: '750', runId: 'run-older' } }],
      ['allowanceUsed without runId', { ...complete, allowanceUsed: { value: 750 } }],
    ];
    for (const [name, value] of cases) assert.equal(parseCheckpoint(JSON.stringify(value)), undefined, name);
    for (const text of ['', '{}', 'null', '[]', 'not json']) assert.equal(parseCheckpoint(text), undefined, JSON.stringify(text));
  });
});

describe('planRun: scope (SYNC_GROUP_ID, USER_FILTER)', () => {
  const group = 'group=6f1d2c3b-0000-4000-8000-000000000001';
  const members = 'users.members.run-old.1.bin';

  it('a changes run under the same group carries the committed membership on', () => {
    const plan = planRun(checkpoint({ scope: group, deltaScope: group, members }), invocation, { mode: 'delta', fields, scope: group, group: true });
    assert.equal(plan.sends, 'changes');
    assert.equal(plan.watermark.members, members);
    assert.equal(plan.watermark.deltaScope, group);
  });

  it('another group, or a group where there was none, starts a snapshot and says why', () => {
    for (const found of [checkpoint(), checkpoint({ scope: 'group=other', deltaScope: 'group=other', members })]) {
      const plan = planRun(found, invocation, { mode: 'delta', fields, scope: group, group: true });
      assert.equal(plan.sends, 'snapshot');
      assert.equal(plan.snapshotReason, 'requested');
      assert.match(plan.notices.join('\n'), /SYNC_GROUP_ID changed/);
    }
    const dropped = planRun(checkpoint({ scope: group, deltaScope: group, members }), invocation, { mode: 'delta', fields, scope: null, group: false });
    assert.equal(dropped.sends, 'snapshot');
  });

  it('a group whose membership blob is not recorded starts a snapshot', () => {
    const plan = planRun(checkpoint({ scope: group, deltaScope: group, members: null }), invocation, { mode: 'delta', fields, scope: group, group: true });
    assert.equal(plan.sends, 'snapshot');
    assert.match(plan.notices.join('\n'), /membership/);
  });

  it('a running run resumes only under its own scope, with its membership reading', () => {
    const found = running({ scope: group, deltaScope: group, members, membersNext: 'users.members.run-7.2.bin' });
    const same = planRun(found, invocation, { mode: 'delta', fields, scope: group, group: true });
    assert.equal(same.resumed, true);
    assert.equal(same.membersNext, 'users.members.run-7.2.bin');
    const other = planRun(found, invocation, { mode: 'full', fields, scope: 'filter=accountEnabled eq true' });
    assert.equal(other.resumed, false);
    const changed = planRun({ ...found, mode: 'full' }, invocation, { mode: 'full', fields, scope: 'filter=accountEnabled eq false' });
    assert.equal(changed.resumed, false);
    assert.match(changed.notices.join('\n'), /SYNC_GROUP_ID or USER_FILTER changed/);
  });

  it('reads checkpoints written before scope existed as every-user ones', () => {
    const old = Object.fromEntries(
      Object.entries(checkpoint()).filter(([key]) => !['scope', 'deltaScope', 'members', 'membersNext', 'partitions'].includes(key)),
    );
    const parsed = parseCheckpoint(JSON.stringify(old));
    assert.ok(parsed);
    assert.equal(parsed.scope, null);
    assert.equal(parsed.members, null);
    assert.equal(parseCheckpoint(JSON.stringify({ ...old, members: 42 })), undefined);
  });
});

describe('planRun: a partitioned full walk', () => {
  it('resumes each range where the checkpoint has it, and a new run starts without ranges', () => {
    const partitions = [
      { start: 'https://graph.microsoft.com/v1.0/users?$filter=a', next: null, done: true },
      { start: 'https://graph.microsoft.com/v1.0/users?$filter=b', next: 'https://graph.microsoft.com/v1.0/users?$skiptoken=b2', done: false },
    ];
    const found = running({ mode: 'full', kind: 'snapshot', snapshotReason: 'full-mode', nextLink: null, partitions });
    const resumed = planRun(found, invocation, { mode: 'full', fields });
    assert.equal(resumed.resumed, true);
    assert.deepEqual(resumed.partitions, partitions);
    const parsed = parseCheckpoint(JSON.stringify(found));
    assert.deepEqual(parsed?.partitions, partitions);
    assert.equal(parseCheckpoint(JSON.stringify({ ...found, partitions: [{ start: 1 }] })), undefined);
    assert.equal(planRun(checkpoint({ mode: 'full' }), invocation, { mode: 'full', fields }).partitions, null);
  });
});
