import { count } from '../core';
import { SettingDefaults, SettingNames } from './names';
import { fires, parseNcrontab, parseTimeSpan } from './schedule';

/**
 * Plain values: IDs, numbers, the schedule, the Graph property list. Each check adds at most one
 * problem for its setting to `problems`; none throws.
 */

/** What every check gets: the trimmed value of a setting (undefined when unset, empty or blank) and the list of problems. */
export interface SettingsReader {
  get(name: string): string | undefined;
  readonly problems: string[];
}

export const exampleGuid = '11111111-2222-3333-4444-555555555555';
const guidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const nilGuid = '00000000-0000-0000-0000-000000000000';
const domainPattern = /^(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;
const propertyPattern = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

/**
 * A value as shown in a problem: quoted, with control characters escaped (so a value can never
 * add lines that look like a stack trace) and cut at 200 characters. Never use it for a
 * connection string: those are never shown at all.
 */
export function show(value: string): string {
  return JSON.stringify(value.length > 200 ? `${value.slice(0, 200)}…` : value);
}

export function isGuid(value: string): boolean {
  return guidPattern.test(value);
}

/** Why `value` is not a GUID, in a few words ('' when it is one). */
function guidHint(value: string): string {
  if (/^\{.*\}$/.test(value) && guidPattern.test(value.slice(1, -1))) return ' (remove the braces)';
  if (guidPattern.test(value.slice(0, 36))) return ' (it has extra characters after the GUID)';
  return '';
}

/** The directory (tenant): a GUID or a verified domain; never the placeholder or a multi-tenant alias. */
export function checkTenantId(value: string, problems: string[]): void {
  const name = SettingNames.tenantId;
  const example = `e.g. ${name}=${exampleGuid} or contoso.onmicrosoft.com`;
  if (value === nilGuid) {
    problems.push(
      `${name} ${show(value)} is the placeholder from local.settings.json.example: set the Directory (tenant) ID of the app registration, ${example}`,
    );
  } else if (!guidPattern.test(value) && !domainPattern.test(value)) {
    problems.push(
      `${name} ${show(value)} is neither a GUID nor a domain name` +
        (/^(common|organizations|consumers)$/i.test(value) ? ' (app-only tokens need a specific tenant, not a multi-tenant alias)' : guidHint(value)) +
        `, ${example}`,
    );
  }
}

/** A client ID (GUID); `what` says whose. */
export function checkClientId(name: string, value: string, what: string, problems: string[]): void {
  if (value === nilGuid) {
    problems.push(`${name} ${show(value)} is the placeholder from local.settings.json.example: set ${what}, e.g. ${name}=${exampleGuid}`);
  } else if (!guidPattern.test(value)) {
    problems.push(`${name} ${show(value)} is not a GUID${guidHint(value)}: it must be ${what}, e.g. ${name}=${exampleGuid}`);
  }
}

/** A whole number from min to max (digits only: no sign, decimals, exponent or unit), or the default when unset. */
export function readWholeNumber(reader: SettingsReader, name: string, fallback: number, min: number, max: number, unit = ''): number {
  const text = reader.get(name);
  if (text === undefined) return fallback;
  const value = /^\d{1,9}$/.test(text) ? Number(text) : Number.NaN;
  if (!(value >= min && value <= max)) {
    reader.problems.push(`${name} ${show(text)} must be a whole number${unit === '' ? '' : ` of ${unit}`} from ${min} to ${max}, e.g. ${name}=${fallback}`);
    return fallback;
  }
  return value;
}

/**
 * USER_FIELDS: Graph user property names for $select. `id` (in any case) is always selected,
 * first. Exact duplicates are dropped silently (harmless, and existing configurations have them);
 * the same name in different case (`mail,Mail`) is refused: Graph property names are
 * case-insensitive, so both would select one property but the message would carry two keys.
 */
export function parseUserFields(value: string, problems: string[]): readonly string[] {
  const name = SettingNames.userFields;
  const fields = value
    .split(',')
    .map((f) => f.trim())
    .filter((f) => f !== '');
  const example = `e.g. ${name}=${SettingDefaults.userFields}`;
  const bad = [...new Set(fields.filter((f) => !propertyPattern.test(f)))];
  if (bad.length > 0 || fields.length === 0) {
    problems.push(
      `${name} ${show(value)} must be a comma-separated list of Graph user property names` +
        (bad.length > 0
          ? ` (not valid: ${bad.map(show).join(', ')}; a name is a letter followed by letters, digits or underscores, without $, &, = or spaces)`
          : '') +
        `, ${example}`,
    );
  } else {
    const spellings = new Map<string, Set<string>>();
    for (const f of fields) spellings.set(f.toLowerCase(), (spellings.get(f.toLowerCase()) ?? new Set()).add(f));
    const clashes = [...spellings.values()].filter((s) => s.size > 1);
    if (clashes.length > 0) {
      problems.push(
        `${name} ${show(value)} names the same property more than once in different case (${clashes.map((s) => [...s].map(show).join(' and ')).join('; ')}); ` +
          `Graph property names are case-insensitive, so keep one spelling, ${example}`,
      );
    }
  }
  const unique = [...new Set(fields.filter((f) => propertyPattern.test(f) && f.toLowerCase() !== 'id'))];
  return ['id', ...unique];
}

/**
 * SYNC_SCHEDULE: exactly what the Functions timer trigger accepts (shared/schedule.ts: six-field
 * NCRONTAB as NCrontab.Signed parses it, or a TimeSpan such as 01:00:00), and that ever fires.
 * One problem, naming the token the host refuses and what to write instead.
 */
export function checkSchedule(schedule: string, problems: string[]): void {
  const name = SettingNames.schedule;
  const hint = `six-field NCRONTAB in UTC: {second} {minute} {hour} {day} {month} {day-of-week} (or an interval such as 01:00:00), e.g. ${name}=${SettingDefaults.schedule}`;
  const cron = parseNcrontab(schedule);
  if ('sets' in cron) {
    if (!fires(cron.sets)) problems.push(`${name} ${show(schedule)} never fires (no such date, e.g. 31 February); it must be ${hint}`);
    return;
  }
  if ('token' in cron) {
    // Quartz-style tokens (L, 15W, LW, MON#1, ?) that croner and others take and NCrontab does not.
    const foreign = /[#?]|^\d*[LW]$|^LW$|\d[LW]/i.test(cron.token);
    problems.push(
      foreign
        ? `${name} ${show(schedule)} uses ${show(cron.token)} in the ${cron.field} field, which NCRONTAB does not understand (no L, W, # or ?: only numbers, names of months and days, * , - and /); it must be ${hint}`
        : `${name} ${show(schedule)} is not valid (${show(cron.token)} in the ${cron.field} field: ${cron.reason}); it must be ${hint}`,
    );
    return;
  }
  const span = parseTimeSpan(schedule);
  if (span !== undefined) {
    if (span <= 0)
      problems.push(`${name} ${show(schedule)} is an interval of ${span === 0 ? 'zero' : 'less than zero'}, which never fires; it must be ${hint}`);
    return;
  }
  const fieldCount = cron.fieldCount;
  const extra =
    fieldCount === 5
      ? ' (prefix a 0 for the seconds field)'
      : fieldCount === 7
        ? ' (NCRONTAB has no year field)'
        : /\t/.test(schedule)
          ? ' (separate the fields with spaces: the host does not split on tabs)'
          : '';
  problems.push(`${name} ${show(schedule)} has ${count(fieldCount, 'field')} and is not an interval either; it must be ${hint}${extra}`);
}
