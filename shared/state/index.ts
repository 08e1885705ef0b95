export { RunStateStore, checkpointVersion, parseCheckpoint, type PendingRemoval, type RunCheckpoint, type RunLock } from './checkpoint';
export { MembershipStore, bytesPerMember, decodeMembers, encodeMembers } from './membership';
