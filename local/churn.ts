import { count } from '../shared';
import type { SeedUser } from './stand-ins/seed';

/**
 * Directory churn, as the Graph stand-in makes it (GraphStandIn.churn): the kinds of change and
 * how often each is drawn, what an update changes, and a one-line summary of a churn. Everything
 * here is pure: the randomness comes in as `random` (e.g. seed.ts's prng, for repeatable runs).
 */

export type ChurnKind = 'added' | 'updated' | 'softDeleted' | 'restored' | 'hardDeleted';

/** One change of a churn: the kind, the user's id, and for an update the properties it changed. */
export type ChurnChange = { kind: ChurnKind; id: string; fields?: string[] };

/** How often each kind is drawn, in the order of summaries, with its word there. */
const kinds: readonly { kind: ChurnKind; share: number; word: string }[] = [
  { kind: 'updated', share: 0.3, word: 'updated' },
  { kind: 'added', share: 0.25, word: 'added' },
  { kind: 'softDeleted', share: 0.2, word: 'soft-deleted' },
  { kind: 'restored', share: 0.1, word: 'restored' },
  { kind: 'hardDeleted', share: 0.15, word: 'hard-deleted' },
];

/** Draws a kind: 30% updated, 25% added, 20% soft-deleted, 10% restored, 15% hard-deleted (one draw of `random`). */
export function churnKind(random: () => number): ChurnKind {
  const draw = random();
  let below = 0;
  for (const { kind, share } of kinds) {
    below += share;
    if (draw < below) return kind;
  }
  return 'hardDeleted';
}

/** The properties an update changes. */
export const churnedProperties = ['jobTitle', 'department', 'displayName', 'mobilePhone', 'officeLocation'] as const;
type ChurnedProperty = (typeof churnedProperties)[number];

const jobTitles = ['Account Manager', 'Credit Analyst', 'Payments Engineer', 'Risk Officer', 'Customer Success Lead', 'Head of Treasury', 'Compliance Analyst'];
const departments = ['Billing', 'Collections', 'Engineering', 'Risk', 'Support', 'Treasury', 'Compliance'];
const offices = ['Dublin 2/14', 'Lisboa 1/03', 'Kraków 4/22', 'Cork 1/07', 'Porto 3/11'];
/** New surnames for a changed display name (a marriage, a correction). */
const surnames = ['Ní Bhriain', 'Kowalska', 'Sørensen', 'Ferreira', 'Nakamura', 'Öztürk', 'Mensah-Dubois'];

function pickOther(values: readonly string[], current: string | null, random: () => number): string {
  const others = values.filter((v) => v !== current);
  return others[Math.floor(random() * others.length)] ?? values[0] ?? '';
}

function newValue(user: SeedUser, property: ChurnedProperty, random: () => number): string {
  switch (property) {
    case 'jobTitle':
      return pickOther(jobTitles, user.jobTitle, random);
    case 'department':
      return pickOther(departments, user.department, random);
    case 'officeLocation':
      return pickOther(offices, user.officeLocation, random);
    case 'displayName':
      return pickOther(
        surnames.map((s) => `${user.givenName} ${s}`),
        user.displayName,
        random,
      );
    case 'mobilePhone':
      for (;;) {
        const phone = `+353 8${Math.floor(random() * 10)} ${String(Math.floor(random() * 1e7)).padStart(7, '0')}`;
        if (phone !== user.mobilePhone) return phone;
      }
  }
}

/**
 * An update for `user`: one or two of churnedProperties (half the time each), each set to a value
 * other than its current one (never null), so that updateUser always records a change.
 */
export function churnUpdate(user: SeedUser, random: () => number): Partial<Pick<SeedUser, ChurnedProperty>> {
  const left: ChurnedProperty[] = [...churnedProperties];
  const update: Partial<Pick<SeedUser, ChurnedProperty>> = {};
  for (let n = random() < 0.5 ? 1 : 2; n > 0; n--) {
    const [property] = left.splice(Math.floor(random() * left.length), 1);
    if (property !== undefined) update[property] = newValue(user, property, random);
  }
  return update;
}

/** "12 changes: 4 updated, 3 added, 2 soft-deleted, 1 restored, 2 hard-deleted"; kinds not made are left out. */
export function summarizeChurn(changes: readonly ChurnChange[]): string {
  const parts = kinds
    .map(({ kind, word }) => ({ n: changes.filter((c) => c.kind === kind).length, word }))
    .filter(({ n }) => n > 0)
    .map(({ n, word }) => count(n, word, word));
  return parts.length === 0 ? count(changes.length, 'change') : `${count(changes.length, 'change')}: ${parts.join(', ')}`;
}
