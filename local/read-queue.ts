import type { QueueClient } from '@azure/storage-queue';
import { decodeMessage, type MessageEncoding, type SyncMessage } from '../shared';

/**
 * What a consumer would get: every message in the queue, received (hidden for 5 minutes) and
 * decoded. For the soak and the tests, which then delete or clear the queue.
 */
export async function receiveAll(queue: QueueClient, encoding: MessageEncoding): Promise<SyncMessage[]> {
  const messages: SyncMessage[] = [];
  for (;;) {
    const batch = await queue.receiveMessages({ numberOfMessages: 32, visibilityTimeout: 300 });
    if (batch.receivedMessageItems.length === 0) return messages;
    for (const item of batch.receivedMessageItems) messages.push(decodeMessage(item.messageText, encoding));
  }
}
