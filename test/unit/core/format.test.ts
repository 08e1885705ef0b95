import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { count } from '../../../shared';

describe('words', () => {
  it('counts: plural only when plural', () => {
    assert.equal(count(1, 'page'), '1 page');
    assert.equal(count(0, 'page'), '0 pages');
    assert.equal(count(2, 'user'), '2 users');
    assert.equal(count(1, 'message was', 'messages were'), '1 message was');
    assert.equal(count(3, 'message was', 'messages were'), '3 messages were');
  });
});
