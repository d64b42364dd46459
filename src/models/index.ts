// Where model bytes come from: the hub (downloaded into the browser's storage) or this computer.
// The UI imports from here; the modules behind it are internal.

export { deleteCachedModel, downloadModel, keepLocalModel, listCachedModels, openCachedModel, storageStatus } from './cache.ts';
export type { CachedModel, CachedModelSummary, DownloadOptions, StorageStatus } from './cache.ts';
export { DEFAULT_HUB_URL, listHubRepo, readHubJson, type HubListing, type HubModelSpec } from './hub.ts';
export { openDirectoryHandle, openFolderUrl, openPickedFiles } from './local.ts';
export type { DownloadProgress, FileProgress } from './progress.ts';
