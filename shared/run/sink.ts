import { createQueueError, QueueErrorCodes } from '../queue';
import { MessageTypes, encodeMessage, overflowMessage, type SyncMessage } from '../messages';
import { QueueSender } from '../queue';
import type { SyncRuntime } from './runtime';

/**
 * Where a run's messages go: encoded as MESSAGE_ENCODING says, through the claim check when a
 * user's message is over the queue's limit (the record in a blob, a reference in the message),
 * and into the queue with QUEUE_SEND_CONCURRENCY sends in flight.
 */
export class QueueSink {
  readonly #sender: QueueSender;
  #overflowed = 0;

  constructor(
    private readonly runtime: SyncRuntime,
    /** Called for each message handed to the sender (the cursor counts them). */
    private readonly onMessage: () => void,
  ) {
    this.#sender = new QueueSender(runtime.queueClient, runtime.settings.sendConcurrency, runtime.queueTarget);
  }

  /** Messages the queue accepted in this invocation. */
  get sent(): number {
    return this.#sender.sent;
  }

  /** Messages that went through the claim check. */
  get overflowed(): number {
    return this.#overflowed;
  }

  async send(message: SyncMessage): Promise<void> {
    const encoding = this.runtime.settings.messageEncoding;
    let text = encodeMessage(message, encoding);
    if (text === undefined && message.type !== MessageTypes.removed && message.type !== MessageTypes.snapshotCompleted) {
      const reference = await this.runtime.overflow.put(message);
      this.#overflowed++;
      text = encodeMessage(overflowMessage(message, reference), encoding);
    }
    if (text === undefined)
      throw createQueueError(QueueErrorCodes.overflowFailed, { problem: 'tooLargeAsClaimCheck', type: message.type, messageId: message.messageId });
    this.onMessage();
    await this.#sender.enqueue(text);
  }

  /** True once every message so far was accepted (QueueSender.barrier). */
  barrier(): Promise<boolean> {
    return this.#sender.barrier();
  }

  /** Waits for every send in flight; throws the first failure. */
  drain(): Promise<void> {
    return this.#sender.drain();
  }
}
