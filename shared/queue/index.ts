export { OverflowStore } from './overflow';
export { QueueSender, createQueueClient, describeQueueTarget, ensureQueue } from './queue';
export { QueueErrorCodes, QueueErrorMessages, createQueueError, type QueueErrorCode } from './errors';
