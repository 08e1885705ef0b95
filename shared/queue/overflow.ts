import type { ContainerClient } from '@azure/storage-blob';
import { describeCause } from '../core';
import { createQueueError, QueueErrorCodes } from './errors';
import type { OverflowReference, UserStateMessage } from '../messages';
import { ensureContainer } from '../storage';

/**
 * The claim check (Azure's pattern for messages over the queue's 64 KiB): the whole message is
 * written to a blob, `<runId>/<messageId>.json`, and the queue gets a small message that names it.
 * The blob name follows the message id, so a resend overwrites the same blob.
 */
export class OverflowStore {
  #ready = false;

  constructor(
    private readonly container: ContainerClient,
    private readonly where: string,
  ) {}

  async put(message: UserStateMessage): Promise<OverflowReference> {
    const name = `${message.runId}/${message.messageId}.json`;
    const blob = this.container.getBlockBlobClient(name);
    const text = JSON.stringify(message);
    const bytes = Buffer.byteLength(text);
    try {
      if (!this.#ready) {
        await ensureContainer(this.container);
        this.#ready = true;
      }
      await blob.upload(text, bytes, { blobHTTPHeaders: { blobContentType: 'application/json; charset=utf-8' } });
    } catch (error) {
      const userId = message.user['id'] as string;
      throw createQueueError(
        QueueErrorCodes.overflowFailed,
        { problem: 'blobFailed', userId, where: this.where, causeText: describeCause(error) },
        { cause: error },
      );
    }
    // Never a SAS in a message: the URL without its query.
    return { url: blob.url.split('?')[0] ?? blob.url, container: this.container.containerName, blob: name, bytes };
  }
}
