export { OverflowStore } from './overflow';
export { QueueSender, createQueueClient, describeQueueTarget, ensureQueue } from './queue';
