import { count } from '../core';
import { createRunError, type HeldRemovals, type HeldRun, type RemovalsHeldError, RunErrorCodes } from './errors';
import type { RunCheckpoint } from '../state';
import { describeThreshold, removalThreshold, type SyncSettings } from '../settings';

/**
 * The mass-deletion guard as a policy: more removals than the threshold (SYNC_MAX_REMOVALS, of the
 * last snapshot's size) hold the run unless an allowance lets them through once: the command
 * line's (`--allow-removals N`), or else SYNC_ALLOW_REMOVALS if no run has used that value yet.
 * Pure: the run and the dry run ask it the same questions and get the same verdicts.
 */

export type GuardVerdict =
  /** At or under the threshold. */
  | { readonly kind: 'pass' }
  /** Over it, let through by the allowance: `notice` says so; `allowanceUsed` is what the checkpoint records. */
  | { readonly kind: 'allowed'; readonly notice: string; readonly allowanceUsed: RunCheckpoint['allowanceUsed'] }
  /** Over it, and over the allowance (or none): the run is held. */
  | { readonly kind: 'held' };

export interface GuardInputs {
  readonly settings: Pick<SyncSettings, 'maxRemovals' | 'allowRemovals'>;
  /** Users in the last finished snapshot (the base of a percentage); null: none yet. */
  readonly knownUsers: number | null;
  /** The SYNC_ALLOW_REMOVALS value a run used already, and which. */
  readonly allowanceUsed: RunCheckpoint['allowanceUsed'];
  /** `--allow-removals N`, if given. */
  readonly allowRemovals: number | undefined;
  readonly runId: string;
}

export class RemovalGuard {
  readonly threshold: number;
  /** The allowance in force (undefined: none). */
  readonly allowance: number | undefined;
  /** Removals a walk keeps in full: enough to send them all when allowed, and to know the run is held when not. */
  readonly cap: number;
  /** What the operator should be told when the run starts (an allowance already used). */
  readonly notices: readonly string[];
  /** What the checkpoint records of SYNC_ALLOW_REMOVALS until a verdict uses it. */
  readonly allowanceUsed: RunCheckpoint['allowanceUsed'];
  readonly #fromSetting: boolean;

  constructor(private readonly inputs: GuardInputs) {
    const { settings, allowanceUsed, allowRemovals } = inputs;
    this.threshold = removalThreshold(settings.maxRemovals, inputs.knownUsers);
    const settingUsed = settings.allowRemovals !== undefined && allowanceUsed?.value === settings.allowRemovals;
    this.#fromSetting = allowRemovals === undefined && settings.allowRemovals !== undefined && !settingUsed;
    this.allowance = allowRemovals ?? (this.#fromSetting ? settings.allowRemovals : undefined);
    this.notices =
      allowRemovals === undefined && settingUsed
        ? [
            `SYNC_ALLOW_REMOVALS=${settings.allowRemovals ?? 0} was used once already (run ${allowanceUsed?.runId ?? ''}) and is ignored: remove the setting, or change it to allow another held run.`,
          ]
        : [];
    this.allowanceUsed = settings.allowRemovals === undefined ? null : allowanceUsed;
    this.cap = Math.max(this.threshold, this.allowance ?? 0) + 1;
  }

  /** What the guard says of `removed` removals (sent, or implied by a snapshot). */
  verdict(removed: number): GuardVerdict {
    if (removed <= this.threshold) return { kind: 'pass' };
    if (this.allowance === undefined || removed > this.allowance) return { kind: 'held' };
    const by = this.#fromSetting ? `SYNC_ALLOW_REMOVALS=${this.allowance}` : `--allow-removals ${this.allowance}`;
    return {
      kind: 'allowed',
      notice: `Letting ${count(removed, 'removal')} through, over the guard's ${this.describe()}: allowed once by ${by}.`,
      allowanceUsed: this.#fromSetting ? { value: this.allowance, runId: this.inputs.runId } : this.allowanceUsed,
    };
  }

  /** The threshold in words ("10 % of the last snapshot's 200 users, 20"). */
  describe(): string {
    return describeThreshold(this.inputs.settings.maxRemovals, this.inputs.knownUsers);
  }
}

/** The error of a held run: what was held, what was sent, and the two ways to let it through. */
export function removalsHeldError(guard: RemovalGuard, held: number, removing: HeldRemovals, run: HeldRun): RemovalsHeldError {
  return createRunError(RunErrorCodes.removalsHeld, {
    run,
    held,
    removing,
    threshold: guard.threshold,
    thresholdWords: guard.describe(),
    allowance: guard.allowance,
  });
}
