export {
  createContainerClient,
  describeContainer,
  ensureContainer,
  pipelineOptions,
  storageErrorCode,
  storageRetryOptions,
  type StorageClientOptions,
} from './clients';
export { StorageErrorCodes, StorageErrorMessages, createStorageError, type StorageErrorCode } from './errors';
