// A model's text side, as the engine loads it from the model's files: its tokenizer and what ends a
// reply (endOfTurn.ts). Kept apart from the GPU load so that it runs, and is tested, anywhere.

import type { ModelFiles } from '../files/modelFiles.ts';
import { endOfTurnIds, endOfTurnStrings } from './endOfTurn.ts';
import { TextTokenizer } from './tokenizer.ts';

export interface ModelText {
  tokenizer: TextTokenizer;
  /** Ids that end a reply: the model's EOS and end-of-turn tokens. */
  stopIds: number[];
  /** Texts that end a reply where the model writes them out of ordinary tokens. */
  stopStrings: string[];
}

export function loadModelText(files: Pick<ModelFiles, 'tokenizerJson' | 'tokenizerConfig' | 'generationConfig' | 'config'>): ModelText {
  const tokenizer = TextTokenizer.load(files);
  const stopIds = endOfTurnIds(files);
  return { tokenizer, stopIds, stopStrings: endOfTurnStrings(files, stopIds) };
}
