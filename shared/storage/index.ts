export {
  createContainerClient,
  describeContainer,
  ensureContainer,
  pipelineOptions,
  storageErrorCode,
  storageRetryOptions,
  type StorageClientOptions,
} from './clients';
