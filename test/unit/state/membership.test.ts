import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { bytesPerMember, decodeMembers, encodeMembers, entryAction, Membership, SyncError, SyncErrorCodes } from '../../../shared/internal';

describe('group membership: encoding and the scope rules', () => {
  it('keeps 16 bytes per member and gives the same ids back, lowercase', () => {
    const ids = Array.from({ length: 1000 }, () => randomUUID());
    const upper = ids.map((id, i) => (i % 2 === 0 ? id.toUpperCase() : id));
    const buffer = encodeMembers(upper);
    assert.equal(buffer.length, 1000 * bytesPerMember);
    assert.deepEqual([...decodeMembers(buffer)].sort(), [...ids].sort());
    assert.equal(decodeMembers(encodeMembers([])).size, 0);
  });

  it('refuses an id that is not a GUID, and a blob that is not whole ids', () => {
    assert.throws(
      () => encodeMembers(['not-a-guid']),
      (error: unknown) => error instanceof SyncError && error.code === SyncErrorCodes.graphResponseInvalid,
    );
    assert.throws(() => decodeMembers(Buffer.alloc(17)), RangeError);
  });

  it('sends members only, removals of members only, and lists joiners and leavers sorted', () => {
    const [a, b, c, d] = [
      'a0000000-0000-4000-8000-000000000000',
      'b0000000-0000-4000-8000-000000000000',
      'c0000000-0000-4000-8000-000000000000',
      'd0000000-0000-4000-8000-000000000000',
    ];
    assert.ok(a && b && c && d);
    const members = new Membership(new Set([a, b, c]), new Set([b, c, d]));
    const user = (id: string) => ({ kind: 'user' as const, user: { id, properties: { id } } });
    const removed = (id: string) => ({ kind: 'removed' as const, removed: { id, reason: 'deleted' } });
    assert.equal(entryAction(user(a), 'changes', members), 'upsert');
    assert.equal(entryAction(user(d), 'changes', members), 'skip');
    assert.equal(entryAction(user(d.toUpperCase()), 'changes', undefined), 'upsert');
    assert.equal(entryAction(removed(d), 'changes', members), 'removal');
    assert.equal(entryAction(removed(a), 'changes', members), 'skip', 'a was not a member at the last run: nothing was sent for it');
    assert.equal(entryAction(removed(b), 'snapshot', undefined), 'skip');
    assert.equal(entryAction(user(b), 'snapshot', undefined), 'snapshot');
    assert.deepEqual(members.leavers(), [d]);
    assert.deepEqual(members.joiners(new Set()), [a]);
    assert.deepEqual(members.joiners(new Set([a])), []);
    assert.deepEqual(new Membership(new Set([a]), undefined).leavers(), []);
  });
});
