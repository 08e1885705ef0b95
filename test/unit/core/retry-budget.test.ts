import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RetryBudget } from '../../../shared/internal';

describe('RetryBudget: wall time a run spends failing or waiting', () => {
  it('adds up sequential failures and waits', () => {
    let now = 0;
    const budget = new RetryBudget(10_000, { now: () => now });
    now = 500;
    budget.charge(500); // a failed attempt [0, 500]
    assert.ok(budget.tryCharge(2000)); // waits [500, 2500]
    now = 2500;
    now = 3000;
    budget.charge(500); // the next attempt fails [2500, 3000]
    assert.equal(budget.spentMs, 3000);
  });

  it('charges overlapping waits once (parallel walks waiting out the same Retry-After)', () => {
    let now = 1000;
    const budget = new RetryBudget(5000, { now: () => now });
    for (let walk = 0; walk < 8; walk++) assert.ok(budget.tryCharge(3000), `walk ${walk}`);
    assert.equal(budget.spentMs, 3000);
    now = 2000;
    assert.ok(budget.tryCharge(3000)); // [2000, 5000]: only the second beyond [1000, 4000]
    assert.equal(budget.spentMs, 4000);
    now = 3000;
    budget.charge(2500); // a failed attempt [500, 3000], inside what was charged
    assert.equal(budget.spentMs, 4000);
  });

  it('refuses a wait that would go past the limit, and charges nothing for it', () => {
    const now = 0;
    const budget = new RetryBudget(5000, { now: () => now });
    assert.ok(budget.tryCharge(4000));
    assert.equal(budget.tryCharge(6000), false);
    assert.equal(budget.spentMs, 4000);
    assert.ok(budget.tryCharge(5000)); // [0, 5000]: 1 s beyond
    assert.equal(budget.spentMs, 5000);
    assert.equal(budget.remainingMs, 0);
  });
});
