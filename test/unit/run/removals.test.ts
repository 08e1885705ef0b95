import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PendingRemovals } from '../../../shared/internal';

const removed = (id: string, reason = 'deleted') => ({ id, reason });

describe('PendingRemovals', () => {
  it('starts empty', () => {
    const pending = new PendingRemovals(10);
    assert.equal(pending.count, 0);
    assert.deepEqual(pending.list(), []);
    assert.equal(pending.cap, 10);
  });

  it('keeps each removal with its reason and sequence, listed in the order the walk read them', () => {
    const pending = new PendingRemovals(10);
    pending.add(removed('u-3'), 30);
    pending.add(removed('u-1', 'softDeleted'), 10);
    pending.add(removed('u-2'), 20);
    assert.equal(pending.count, 3);
    assert.deepEqual(pending.list(), [
      { id: 'u-1', reason: 'softDeleted', sequence: 10 },
      { id: 'u-2', reason: 'deleted', sequence: 20 },
      { id: 'u-3', reason: 'deleted', sequence: 30 },
    ]);
  });

  it('counts a user removed twice once, with the later reason and sequence', () => {
    const pending = new PendingRemovals(10);
    pending.add(removed('u-1', 'softDeleted'), 1);
    pending.add(removed('u-2'), 2);
    pending.add(removed('u-1', 'deleted'), 3);
    assert.equal(pending.count, 2);
    assert.deepEqual(pending.list(), [
      { id: 'u-2', reason: 'deleted', sequence: 2 },
      { id: 'u-1', reason: 'deleted', sequence: 3 },
    ]);
  });

  it('forgets a removal cancelled by the user coming back; cancelling an unknown id changes nothing', () => {
    const pending = new PendingRemovals(10);
    pending.add(removed('u-1'), 1);
    pending.add(removed('u-2'), 2);
    pending.cancel('u-1');
    pending.cancel('u-unknown');
    assert.equal(pending.count, 1);
    assert.deepEqual(pending.list(), [{ id: 'u-2', reason: 'deleted', sequence: 2 }]);
    // Removed again after coming back: a removal again.
    pending.add(removed('u-1'), 5);
    assert.deepEqual(
      pending.list().map((r) => r.id),
      ['u-2', 'u-1'],
    );
  });

  it('keeps at most cap removals; the others are only counted', () => {
    const pending = new PendingRemovals(3);
    for (let i = 1; i <= 8; i++) pending.add(removed(`u-${i}`), i);
    assert.equal(pending.count, 8);
    assert.deepEqual(
      pending.list().map((r) => r.id),
      ['u-1', 'u-2', 'u-3'],
    );
    // A kept one read again is updated, not counted again, even at the cap.
    pending.add(removed('u-2', 'softDeleted'), 9);
    assert.equal(pending.count, 8);
    assert.deepEqual(pending.list().at(-1), { id: 'u-2', reason: 'softDeleted', sequence: 9 });
    // A cancel makes room for the next one.
    pending.cancel('u-1');
    assert.equal(pending.count, 7);
    pending.add(removed('u-10'), 10);
    assert.equal(pending.count, 8);
    assert.deepEqual(
      pending.list().map((r) => r.id),
      ['u-3', 'u-2', 'u-10'],
    );
  });

  it('a cap of 0 keeps none and counts all', () => {
    const pending = new PendingRemovals(0);
    pending.add(removed('u-1'), 1);
    pending.add(removed('u-2'), 2);
    assert.equal(pending.count, 2);
    assert.deepEqual(pending.list(), []);
  });

  it('restores what a checkpoint saved, with the removals that were only counted', () => {
    const saved = [
      { id: 'u-2', reason: 'deleted', sequence: 20 },
      { id: 'u-1', reason: 'deleted', sequence: 10 },
    ];
    const pending = new PendingRemovals(2, saved, 5);
    assert.equal(pending.count, 5);
    assert.deepEqual(pending.list(), [saved[1], saved[0]]);
    // Already at the cap: a new one is counted only; a saved one read again is not counted twice.
    pending.add(removed('u-6'), 60);
    pending.add(removed('u-1'), 70);
    assert.equal(pending.count, 6);
    assert.deepEqual(
      pending.list().map((r) => [r.id, r.sequence]),
      [
        ['u-2', 20],
        ['u-1', 70],
      ],
    );
    // The uncounted part survives a cancel of a kept one.
    pending.cancel('u-2');
    assert.equal(pending.count, 5);
  });

  it('restores without a count as just the saved ones, and never counts fewer than it keeps', () => {
    const saved = [{ id: 'u-1', reason: 'deleted', sequence: 1 }];
    assert.equal(new PendingRemovals(5, saved).count, 1);
    assert.equal(new PendingRemovals(5, saved, 0).count, 1);
    assert.equal(new PendingRemovals(5).count, 0);
  });
});
