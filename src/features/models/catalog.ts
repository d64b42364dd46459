// The models the app offers by name, with where their files live on the Hugging Face hub and the
// settings they start with. stories15M is left out until its llama2.c tokenizer has a hub home.

import { STORY_MODEL_CACHE, STORY_MODEL_SETTINGS, type CacheShape, type ChatSettings } from '../settings/settings.ts';

export interface HubLlama2cFiles {
  repo: string;
  revision: string;
  checkpoint: string;
  tokenizer: string;
}

export interface CatalogModel {
  key: string;
  label: string;
  description: string;
  /** Download size, for the picker. */
  size: string;
  hub: HubLlama2cFiles;
  defaults: ChatSettings;
  cache: CacheShape;
}

export const CATALOG: CatalogModel[] = [
  {
    key: 'stories260K',
    label: 'stories260K',
    description: "Karpathy's 260K-parameter llama2.c model, trained on children's stories: it continues the story you start.",
    size: '1.1 MB',
    hub: { repo: 'karpathy/tinyllamas', revision: 'main', checkpoint: 'stories260K/stories260K.bin', tokenizer: 'stories260K/tok512.bin' },
    defaults: STORY_MODEL_SETTINGS,
    cache: STORY_MODEL_CACHE,
  },
];
