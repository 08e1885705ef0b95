export { RunStateStore, checkpointVersion, parseCheckpoint, type PendingRemoval, type RunCheckpoint, type RunLock, type RunSends } from './checkpoint';
export { MembershipStore, bytesPerMember, decodeMembers, encodeMembers } from './membership';
export { StateErrorCodes, StateErrorMessages, createStateError, type StateAction, type StateErrorCode } from './errors';
