/**
 * Deterministic, realistic directory users for the Graph stand-in: unicode names, some without
 * mail, some disabled, some without a job title. The same (count, seed) always gives the same users.
 */

export interface SeedUser {
  id: string;
  displayName: string;
  givenName: string;
  surname: string;
  mail: string | null;
  userPrincipalName: string;
  accountEnabled: boolean;
  jobTitle: string | null;
  department: string | null;
  mobilePhone: string | null;
  businessPhones: string[];
  officeLocation: string | null;
  preferredLanguage: string | null;
  usageLocation: string | null;
  employeeId: string | null;
  /** Member for every seeded user; addUser can make a Guest. */
  userType: string;
  createdDateTime: string;
}

const givenNames = [
  'Zoë',
  'José',
  'Łukasz',
  'Søren',
  'Ólafur',
  'Aiko',
  'Nguyễn',
  'Fatma',
  'Chloé',
  'Björn',
  'Ana',
  'Dmitrij',
  'Priya',
  '美咲',
  'Oğuz',
  'Mateus',
  'Ngozi',
  'Émile',
  'Sinéad',
  'Kwame',
];
const surnames = [
  'Ångström',
  'Müller',
  'Żółć',
  'Kierkegård',
  'Þórsson',
  'Tanaka',
  'Thị Hà',
  'Yılmaz',
  'Dubois',
  'Nordström',
  'García Márquez',
  'Иванов',
  'Raman',
  '佐藤',
  'Çelik',
  'Conceição',
  'Okafor',
  'Lefèvre',
  "O'Brien",
  'Mensah',
];
const titles = ['Account Manager', 'Credit Analyst', 'Payments Engineer', 'Risk Officer', 'Customer Success Lead', null];
const departments = ['Billing', 'Collections', 'Engineering', 'Risk', 'Support', null];
const offices = ['Dublin 2/14', 'Lisboa 1/03', 'Kraków 4/22', null];
const languages = ['en-IE', 'pt-PT', 'pl-PL', 'da-DK', 'ja-JP', null];

/** Every display name the seed can produce (the leak scan looks for them in logs). */
export function seedDisplayNames(): string[] {
  return givenNames.flatMap((given) => surnames.map((surname) => `${given} ${surname}`));
}

/** mulberry32: a tiny seeded PRNG, enough for stable test data (and the soak's draws). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function ascii(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[łŁ]/g, 'l')
    .replace(/[øØ]/g, 'o')
    .replace(/[þÞ]/g, 'th')
    .replace(/[ıİ]/g, 'i')
    .replace(/[^A-Za-z0-9]/g, '')
    .toLowerCase();
}

export function seedUsers(count: number, seed = 20261121, domain = 'contoso.onmicrosoft.com'): SeedUser[] {
  const random = prng(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  const hex = (n: number): string => Array.from({ length: n }, () => Math.floor(random() * 16).toString(16)).join('');
  const users: SeedUser[] = [];
  for (let i = 0; i < count; i++) {
    const givenName = pick(givenNames);
    const surname = pick(surnames);
    const local = `${ascii(givenName) || 'user'}.${ascii(surname) || 'x'}${i}`;
    const id = `${hex(8)}-${hex(4)}-4${hex(3)}-${pick(['8', '9', 'a', 'b'])}${hex(3)}-${hex(12)}`;
    users.push({
      id,
      displayName: `${givenName} ${surname}`,
      givenName,
      surname,
      mail: random() < 0.15 ? null : `${local}@contoso.com`,
      userPrincipalName: `${local}@${domain}`,
      accountEnabled: random() >= 0.1,
      jobTitle: pick(titles),
      department: pick(departments),
      mobilePhone: random() < 0.5 ? null : `+353 8${Math.floor(random() * 10)} ${String(Math.floor(random() * 1e7)).padStart(7, '0')}`,
      businessPhones: random() < 0.6 ? [] : [`+353 1 ${String(Math.floor(random() * 1e7)).padStart(7, '0')}`],
      officeLocation: pick(offices),
      preferredLanguage: pick(languages),
      usageLocation: pick(['IE', 'PT', 'PL', 'DK', 'JP', null]),
      employeeId: random() < 0.3 ? null : String(100000 + i),
      userType: 'Member',
      createdDateTime: new Date(Date.UTC(2019, 0, 1) + Math.floor(random() * 2e11)).toISOString().replace(/\.\d+Z$/, 'Z'),
    });
  }
  return users;
}
