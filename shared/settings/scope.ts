import { SettingNames } from './names';
import type { SyncMode } from './mode';
import { exampleGuid, isGuid, show, type SettingsReader } from './values';

/**
 * Which users a run covers: SYNC_GROUP_ID (the members of one group, nested groups included) and
 * USER_FILTER (an OData $filter on /users, full mode only: Graph's delta query for users filters
 * by id alone). Re-exported by settings.ts.
 */

export interface UserScope {
  /** SYNC_GROUP_ID: only the group's transitive user members. */
  readonly groupId: string | undefined;
  /** USER_FILTER: Graph's $filter, sent as written (full mode only). */
  readonly filter: string | undefined;
  /** The filter needs Graph's advanced query parameters (ConsistencyLevel: eventual and $count=true). */
  readonly advancedFilter: boolean;
}

export const everyUser: UserScope = { groupId: undefined, filter: undefined, advancedFilter: false };

/** Longer filters are refused: Graph's URL limit is about 2 KB for the whole query. */
const maxFilterLength = 1500;

export function readUserScope(reader: SettingsReader, mode: SyncMode): UserScope {
  const problems = reader.problems;
  let groupId = reader.get(SettingNames.groupId);
  if (groupId !== undefined && !isGuid(groupId)) {
    problems.push(
      `${SettingNames.groupId} ${show(groupId)} is not a GUID: it must be the object ID of the group whose members are synced (Entra admin center, Groups, the group's Object ID), e.g. ${SettingNames.groupId}=${exampleGuid}`,
    );
    groupId = undefined;
  }
  let filter = reader.get(SettingNames.userFilter);
  if (filter !== undefined) {
    if (mode === 'delta') {
      problems.push(
        `${SettingNames.userFilter} is set, but SYNC_MODE=delta cannot use it: Graph's delta query for users filters by id only. ` +
          `Put the users to sync in a group and set ${SettingNames.groupId}=<the group's object ID> instead (nested groups count), or set SYNC_MODE=full to read /users with the filter on every run.`,
      );
      filter = undefined;
    } else if (filter.length > maxFilterLength) {
      problems.push(
        `${SettingNames.userFilter} is ${filter.length} characters long, more than ${maxFilterLength}: Graph refuses URLs that long; use a group (${SettingNames.groupId}) for a long list of users.`,
      );
      filter = undefined;
    } else if (withoutLiterals(filter) === undefined) {
      problems.push(
        `${SettingNames.userFilter} ${show(filter)} has an unclosed string literal: quote strings with single quotes and double a quote inside one, e.g. ${SettingNames.userFilter}=department eq 'O''Brien Ltd'`,
      );
      filter = undefined;
    }
  }
  return { groupId, filter, advancedFilter: filter !== undefined && needsAdvancedQuery(filter) };
}

/**
 * Whether Graph serves this filter only as an advanced query: the operators `ne` and `not` and
 * the function `endsWith` (Graph: "Advanced query capabilities on Microsoft Entra ID objects").
 * Only those words outside string literals count, so a scan of the filter's words is enough here:
 * Graph parses and validates the filter itself (its 400 names what it refuses), and the local
 * stand-in parses it with a full OData parser.
 */
export function needsAdvancedQuery(filter: string): boolean {
  const words = withoutLiterals(filter) ?? filter;
  return /(^|[^A-Za-z0-9_/])(ne|not|endswith)([^A-Za-z0-9_/]|$)/i.test(words);
}

/** The filter with its 'string literals' blanked; undefined when a literal is not closed. */
function withoutLiterals(filter: string): string | undefined {
  const blanked = filter.replace(/'(?:[^']|'')*'/g, "''");
  return blanked.includes("'") && (blanked.match(/'/g)?.length ?? 0) % 2 === 1 ? undefined : blanked;
}

/** What a checkpoint records of the scope: runs and delta links under another scope are not carried on. null: every user. */
export function scopeKey(scope: UserScope): string | null {
  const parts = [
    scope.groupId === undefined ? undefined : `group=${scope.groupId.toLowerCase()}`,
    scope.filter === undefined ? undefined : `filter=${scope.filter}`,
  ].filter((p) => p !== undefined);
  return parts.length === 0 ? null : parts.join(';');
}

/** For messages: "the members of group <id>", "the users matching USER_FILTER", "every user". */
export function describeScope(scope: UserScope): string {
  if (scope.groupId !== undefined && scope.filter !== undefined) return `the members of group ${scope.groupId} matching ${SettingNames.userFilter}`;
  if (scope.groupId !== undefined) return `the members of group ${scope.groupId}`;
  if (scope.filter !== undefined) return `the users matching ${SettingNames.userFilter}`;
  return 'every user';
}
