// Where model bytes come from: the hub (downloaded into the browser's storage) or this computer.
// The downloads, the model cache and local folders as the UI uses them. The catalog (catalog.ts),
// the config reader (hfConfig.ts) and hub.ts's file rules are imported directly where needed.

export { deleteCachedModel, downloadModel, keepLocalModel, listCachedModels, openCachedModel, storageStatus } from './cache.ts';
export type { CachedModel, CachedModelSummary, DownloadOptions, StorageStatus } from './cache.ts';
export { DEFAULT_HUB_URL, listHubRepo, readHubJson, type HubListing, type HubModelSpec } from './hub.ts';
export { openDirectoryHandle, openFolderUrl, openPickedFiles } from './local.ts';
export type { DownloadProgress, FileProgress } from './progress.ts';
