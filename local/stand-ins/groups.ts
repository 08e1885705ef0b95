import { randomUUID } from 'node:crypto';

/**
 * The groups of the Graph stand-in's directory: each holds members by id, users or other groups
 * (nesting, cycles included, as a directory may have them). Users are the Graph stand-in's; this
 * file knows them only as ids that are not groups. Membership is not a user change: it never
 * touches the users' change log, so it never shows in /users/delta (as in Graph).
 */

interface Group {
  id: string;
  displayName: string;
  /** Direct members, users and groups, in the order they were added. */
  members: Set<string>;
}

export class GroupDirectory {
  readonly #groups = new Map<string, Group>();

  /** Whether `id` is a group here. */
  has(id: string): boolean {
    return this.#groups.has(id);
  }

  get size(): number {
    return this.#groups.size;
  }

  /** A new empty group (a new id unless given); returns its id. */
  add(options: { id?: string; displayName?: string } = {}): string {
    const id = options.id ?? randomUUID();
    if (this.#groups.has(id)) throw new Error(`Group ${id} exists already`);
    this.#groups.set(id, { id, displayName: options.displayName ?? `Group ${id.slice(0, 8)}`, members: new Set() });
    return id;
  }

  /** Adds a member (a user id the caller checked, or a group id) to a group. */
  addMember(groupId: string, memberId: string): void {
    const group = this.#group(groupId);
    if (group.members.has(memberId)) throw new Error(`${memberId} is a member of group ${groupId} already`);
    group.members.add(memberId);
  }

  removeMember(groupId: string, memberId: string): void {
    if (!this.#group(groupId).members.delete(memberId)) throw new Error(`${memberId} is not a direct member of group ${groupId}`);
  }

  /** Takes `memberId` out of every group (a user deleted for good). */
  removeEverywhere(memberId: string): void {
    for (const group of this.#groups.values()) group.members.delete(memberId);
  }

  /**
   * The ids of every member of the group that is not a group, through nested groups, each once:
   * one visit per group and per membership, however the groups nest (cycles included).
   */
  transitiveMemberIds(groupId: string): Set<string> {
    const found = new Set<string>();
    const visited = new Set<string>([groupId]);
    const pending = [this.#group(groupId)];
    for (let group = pending.pop(); group !== undefined; group = pending.pop()) {
      for (const member of group.members) {
        const nested = this.#groups.get(member);
        if (nested === undefined) found.add(member);
        else if (!visited.has(member)) {
          visited.add(member);
          pending.push(nested);
        }
      }
    }
    return found;
  }

  clear(): void {
    this.#groups.clear();
  }

  #group(id: string): Group {
    const group = this.#groups.get(id);
    if (group === undefined) throw new Error(`No group ${id}`);
    return group;
  }
}
