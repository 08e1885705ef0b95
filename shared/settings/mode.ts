import { SettingDefaults, SettingNames } from './names';
import { show, type SettingsReader } from './values';

/**
 * The settings of what a run sends: SYNC_MODE, and the mass-deletion guard (SYNC_MAX_REMOVALS,
 * SYNC_ALLOW_REMOVALS). Re-exported by settings.ts.
 */

export type SyncMode = 'delta' | 'full';

/** SYNC_MAX_REMOVALS: a count, a percentage of the last known total, or both (the lesser applies). */
export interface RemovalLimit {
  readonly count: number | undefined;
  readonly percent: number | undefined;
}

/** SYNC_MODE if it is valid, else undefined, adding no problem (readSyncMode reports it): for checks of other settings that depend on it. */
export function peekSyncMode(reader: Pick<SettingsReader, 'get'>): SyncMode | undefined {
  const text = (reader.get(SettingNames.syncMode) ?? SettingDefaults.syncMode).toLowerCase();
  return text === 'delta' || text === 'full' ? text : undefined;
}

export function readSyncMode(reader: SettingsReader): SyncMode {
  const mode = peekSyncMode(reader);
  if (mode !== undefined) return mode;
  const text = (reader.get(SettingNames.syncMode) ?? SettingDefaults.syncMode).toLowerCase();
  reader.problems.push(
    `${SettingNames.syncMode} ${show(text)} must be delta (changes only, after a first full run) or full (every user, every run), e.g. ${SettingNames.syncMode}=${SettingDefaults.syncMode}`,
  );
  return SettingDefaults.syncMode;
}

/** Parses "500", "5%", "500,5%" (or "5%,500"); undefined with a problem otherwise. */
export function parseRemovalLimit(text: string): RemovalLimit | undefined {
  let count: number | undefined;
  let percent: number | undefined;
  for (const part of text.split(',').map((p) => p.trim())) {
    const asPercent = /^(\d{1,3}(?:\.\d{1,2})?)\s*%$/.exec(part);
    if (asPercent !== null && percent === undefined) {
      percent = Number(asPercent[1]);
      if (percent <= 0 || percent > 100) return undefined;
    } else if (/^\d{1,9}$/.test(part) && count === undefined) {
      count = Number(part);
    } else {
      return undefined;
    }
  }
  return count === undefined && percent === undefined ? undefined : { count, percent };
}

export function readRemovalLimit(reader: SettingsReader): RemovalLimit {
  const text = reader.get(SettingNames.maxRemovals) ?? SettingDefaults.maxRemovals;
  const limit = parseRemovalLimit(text);
  if (limit !== undefined) return limit;
  reader.problems.push(
    `${SettingNames.maxRemovals} ${show(text)} must be a count of removals, a percentage of the directory above 0 and up to 100, or both (the lesser applies), ` +
      `e.g. ${SettingNames.maxRemovals}=500, ${SettingNames.maxRemovals}=5% or ${SettingNames.maxRemovals}=${SettingDefaults.maxRemovals} (the default)`,
  );
  return parseRemovalLimit(SettingDefaults.maxRemovals) ?? { count: 500, percent: 5 };
}

/**
 * The largest number of removals one run may send under `limit`, given the users in the last
 * snapshot (a percentage needs them; without them only the count applies, or 500).
 */
export function removalThreshold(limit: RemovalLimit, knownUsers: number | null): number {
  // In hundredths of a percent, whole numbers: 0.57% of 10,000 is 57, not floor(5699.999…) = 56.
  const byPercent = limit.percent === undefined || knownUsers === null ? undefined : Math.floor((Math.round(limit.percent * 100) * knownUsers) / 10_000);
  if (limit.count === undefined) return byPercent ?? 500;
  return byPercent === undefined ? limit.count : Math.min(limit.count, byPercent);
}

/** How a threshold was reached, for the guard's message: "125 (5% of 2,500 users, less than 500)". */
export function describeThreshold(limit: RemovalLimit, knownUsers: number | null): string {
  const threshold = removalThreshold(limit, knownUsers);
  const parts: string[] = [];
  if (limit.percent !== undefined && knownUsers !== null)
    parts.push(`${limit.percent}% of the ${knownUsers.toLocaleString('en-US')} users of the last full snapshot`);
  if (limit.count !== undefined) parts.push(`at most ${limit.count.toLocaleString('en-US')}`);
  if (parts.length === 0) parts.push(`${limit.percent ?? 5}% of an unknown total: at most 500 until a full snapshot has counted the users`);
  return `${threshold.toLocaleString('en-US')} (${SettingNames.maxRemovals}: ${parts.join(', ')})`;
}

export function readAllowRemovals(reader: SettingsReader): number | undefined {
  const text = reader.get(SettingNames.allowRemovals);
  if (text === undefined) return undefined;
  if (/^\d{1,9}$/.test(text) && Number(text) >= 1) return Number(text);
  reader.problems.push(
    `${SettingNames.allowRemovals} ${show(text)} must be the number of removals to let through once (a whole number of 1 or more, at least what the held run reported), e.g. ${SettingNames.allowRemovals}=750; remove it afterwards`,
  );
  return undefined;
}
