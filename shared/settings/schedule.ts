/**
 * SYNC_SCHEDULE as the Azure Functions timer trigger reads it. The host (Microsoft.Azure.WebJobs
 * .Extensions.Timers, TimerSchedule.Create and CronSchedule.TryCreate in
 * Azure/azure-webjobs-sdk-extensions) first parses the expression with NCrontab.Signed
 * (`CrontabSchedule.TryParse(expression, { IncludingSeconds = true })`), and only if that fails
 * with `TimeSpan.TryParse` (a constant interval); anything else stops the function from starting,
 * and the schedule then never fires, with no failed run to alert on.
 *
 * Written here rather than taken from npm: the cron libraries there (croner, cron-parser, cron)
 * each accept what NCrontab refuses (L, W, #, ?, 7 for Sunday, five fields) or refuse what it
 * accepts (name prefixes such as `Ju` for June, reversed ranges, step 0). This follows NCrontab
 * 3.4.0's own rules (atifaziz/NCrontab, CrontabSchedule.TryParse, CrontabFieldImpl.InternalParse,
 * CrontabField.Accumulate), and test/ncrontab/ checks a corpus of expressions against the real
 * NCrontab.Signed in CI; test/infra/schedule-corpus.test.ts checks this file against the same corpus.
 */

type Field = { readonly label: string; readonly min: number; readonly max: number; readonly names?: readonly string[] };

// CultureInfo.InvariantCulture's MonthNames and DayNames: NCrontab matches a name by prefix, any
// length, case-insensitive, the first in this order winning (`J` is January, `Ju` June).
const months = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const days = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const fields: readonly Field[] = [
  { label: 'second', min: 0, max: 59 },
  { label: 'minute', min: 0, max: 59 },
  { label: 'hour', min: 0, max: 23 },
  { label: 'day', min: 1, max: 31 },
  { label: 'month', min: 1, max: 12, names: months },
  { label: 'day-of-week', min: 0, max: 6, names: days },
];

/** What NCrontab makes of a schedule: the set of each field, or the token it refused and why. */
export type CronParse = { readonly sets: readonly ReadonlySet<number>[] } | { readonly token: string; readonly field: string; readonly reason: string };

// int.Parse(s, InvariantCulture) as NCrontab calls it on a value that starts with a digit: digits,
// then optional white space (NumberStyles.Integer); an overflow is an exception the host does not catch.
function parseInt32(text: string): number | undefined {
  const m = /^[+-]?(\d+)[\t\n\v\f\r ]*$/.exec(text);
  const n = m ? Number(m[0].trim()) : NaN;
  return Number.isSafeInteger(n) && Math.abs(n) <= 2147483647 ? n : undefined;
}

function parseValue(text: string, field: Field): number | string {
  if (text === '') return 'an empty value';
  if (/^\d/.test(text)) return parseInt32(text) ?? 'not a number';
  const index = field.names?.findIndex((n) => n.toLowerCase().startsWith(text.toLowerCase())) ?? -1;
  if (index >= 0) return index + field.min;
  return field.names ? `neither a number nor the start of a ${field.label} name` : `not a number (the ${field.label} field takes numbers only)`;
}

/** One comma-free part of a field into `set`, as CrontabField.Accumulate does; a reason when it is refused. */
function accumulate(part: string, field: Field, set: Set<number>): string | undefined {
  let every: number | undefined;
  const slash = part.indexOf('/');
  if (slash > 0) {
    every = parseInt32(part.slice(slash + 1));
    if (every === undefined) return 'a step that is not a number';
    part = part.slice(0, slash);
  }
  let start: number;
  let end: number;
  const dash = part.indexOf('-');
  if (part === '*') [start, end] = [field.min, field.max];
  else if (dash > 0) {
    const [first, last] = [parseValue(part.slice(0, dash), field), parseValue(part.slice(dash + 1), field)];
    if (typeof first === 'string') return first;
    if (typeof last === 'string') return last;
    [start, end] = first <= last ? [first, last] : [last, first]; // NCrontab swaps a reversed range
  } else {
    const value = parseValue(part, field);
    if (typeof value === 'string') return value;
    [start, end] = [value, every === undefined ? value : field.max];
  }
  for (const v of [start, end])
    if (v < field.min || v > field.max) return `${v} is outside ${field.min}-${field.max}${v === 7 && field.max === 6 ? ' (Sunday is 0)' : ''}`;
  const step = every === undefined || every < 1 ? 1 : every; // a step of 0 (or less) counts as 1
  for (let v = start; v <= end; v += step) set.add(v);
  return undefined;
}

/** NCrontab's parse of a six-field expression (fields split on spaces only, as CrontabSchedule does). */
export function parseNcrontab(expression: string): CronParse | { readonly fieldCount: number } {
  const tokens = expression.split(' ').filter((t) => t !== '');
  if (tokens.length !== 6) return { fieldCount: tokens.length };
  const sets: Set<number>[] = [];
  for (const [i, token] of tokens.entries()) {
    const field = fields[i] as Field;
    const set = new Set<number>();
    // A comma at the very start is not a list separator for NCrontab: the whole token is then one value.
    const parts = token.indexOf(',') > 0 ? token.split(',') : [token];
    for (const part of parts) {
      const reason = accumulate(part, field, set);
      if (reason !== undefined) return { token: part === '' ? token : part, field: field.label, reason };
    }
    sets.push(set);
  }
  return { sets };
}

/**
 * Whether a parsed schedule ever fires: NCrontab needs the day of month, the month and the day of
 * week to match together (not either day field, as Unix cron). 28 years cover every combination
 * of weekday and leap year.
 */
export function fires(sets: readonly ReadonlySet<number>[]): boolean {
  const [day, month, weekday] = [sets[3], sets[4], sets[5]];
  const date = new Date(Date.UTC(2026, 0, 1));
  for (let i = 0; i < 28 * 366; i++, date.setUTCDate(date.getUTCDate() + 1)) {
    if (day?.has(date.getUTCDate()) && month?.has(date.getUTCMonth() + 1) && weekday?.has(date.getUTCDay())) return true;
  }
  return false;
}

/**
 * TimeSpan.TryParse(text) in the invariant culture, in milliseconds; undefined when .NET refuses
 * it. Forms (docs: TimeSpan.Parse): `d`, `[d.]hh:mm[:ss[.fffffff]]`, `d:hh:mm:ss[.fffffff]`, and
 * `hh:mm:ss` with hours over 23 read as `d:hh:mm`; optional `-`, white space around.
 */
export function parseTimeSpan(text: string): number | undefined {
  const m = /^[\t-\r ]*(-)?(?:(\d+)|(?:(\d+)\.)?(\d+):(\d+)(?::(\d+)(?:\.(\d{1,7}))?)?|(\d+):(\d+):(\d+):(\d+)(?:\.(\d{1,7}))?)[\t-\r ]*$/.exec(text);
  if (!m) return undefined;
  const n = (s: string | undefined): number => (s === undefined ? 0 : Number(s));
  const fraction = (s: string | undefined): number => (s === undefined ? 0 : Number(`0.${s}`) * 1000);
  let [d, h, min, s, ms] = [0, 0, 0, 0, 0];
  if (m[2] !== undefined) d = n(m[2]);
  else if (m[8] !== undefined) [d, h, min, s, ms] = [n(m[8]), n(m[9]), n(m[10]), n(m[11]), fraction(m[12])];
  else if (m[3] === undefined && m[6] !== undefined && m[7] === undefined && n(m[4]) > 23) [d, h, min] = [n(m[4]), n(m[5]), n(m[6])];
  else [d, h, min, s, ms] = [n(m[3]), n(m[4]), n(m[5]), n(m[6]), fraction(m[7])];
  if (h > 23 || min > 59 || s > 59 || d > 10675199) return undefined;
  const total = (((d * 24 + h) * 60 + min) * 60 + s) * 1000 + ms;
  return m[1] ? -total : total;
}

/** How the host reads a schedule: a cron schedule, a constant interval, or neither (the function does not start). */
export function hostSchedule(expression: string): { kind: 'cron'; fires: boolean } | { kind: 'timespan'; fires: boolean } | { kind: 'invalid' } {
  const cron = parseNcrontab(expression);
  if ('sets' in cron) return { kind: 'cron', fires: fires(cron.sets) };
  const span = parseTimeSpan(expression);
  return span === undefined ? { kind: 'invalid' } : { kind: 'timespan', fires: span > 0 };
}
