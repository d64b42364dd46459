import { describe, expect, it } from 'vitest';
import { endOfTurnIds, endOfTurnStrings } from '../../../src/engine/text/endOfTurn.ts';
import { LLAMA32, QWEN25, SMOLLM2, loadFixture, tokenizerFiles, type PreTokenizerKind } from './chatFixtures.ts';

function files(name: string, kind: PreTokenizerKind) {
  const fixture = loadFixture(name);
  return { ...tokenizerFiles(fixture, kind), fixture };
}

describe('endOfTurnIds', () => {
  it("joins the configs' end-of-sequence ids with the end-of-turn tokens the tokenizer defines", () => {
    const qwen = files(QWEN25, 'qwen2');
    expect(endOfTurnIds({ ...qwen, generationConfig: qwen.fixture.generation_config, config: qwen.fixture.config }).sort()).toEqual([151643, 151645]);
    const llama = files(LLAMA32, 'llama3');
    expect(endOfTurnIds({ ...llama, config: llama.fixture.config }).sort()).toEqual([128001, 128008, 128009]);
    const smol = files(SMOLLM2, 'gpt2');
    expect(endOfTurnIds({ ...smol, generationConfig: smol.fixture.generation_config }).sort()).toEqual([0, 2]);
  });

  it('finds an end-of-turn token the configs leave out, and ignores ordinary words', () => {
    const tokenizerJson = {
      added_tokens: [
        { id: 1, content: '<bos>', special: true },
        { id: 106, content: '<end_of_turn>', special: true },
        { id: 107, content: 'end', special: false },
      ],
    };
    expect(endOfTurnIds({ tokenizerJson, tokenizerConfig: { eos_token: '<eos>' }, generationConfig: { eos_token_id: 1 } })).toEqual([1, 106]);
  });
});

describe('endOfTurnStrings', () => {
  const tokenizerJson = {
    added_tokens: [
      { id: 0, content: '<|endoftext|>', special: true },
      { id: 5, content: '<|im_end|>', special: true },
      { id: 6, content: '<|im_start|>', special: true },
    ],
  };

  it("gives generation_config.json's stop_strings, one or a list, and the text of each stop id's token", () => {
    expect(endOfTurnStrings({ tokenizerJson, tokenizerConfig: {}, generationConfig: { stop_strings: 'User:' } }, [5])).toEqual(['User:', '<|im_end|>']);
    expect(endOfTurnStrings({ tokenizerJson, tokenizerConfig: {}, generationConfig: { stop_strings: ['User:', '\n\n\n'] } }, [0, 5])).toEqual(['User:', '\n\n\n', '<|endoftext|>', '<|im_end|>']);
  });

  it('leaves out empty and non-text entries, and stop ids that are no added token', () => {
    const generationConfig = { stop_strings: ['', 7, 'User:'] } as unknown as { stop_strings: string[] };
    expect(endOfTurnStrings({ tokenizerJson, tokenizerConfig: {}, generationConfig }, [5, 99])).toEqual(['User:', '<|im_end|>']);
    expect(endOfTurnStrings({ tokenizerJson, tokenizerConfig: {} }, [])).toEqual([]);
  });
});
