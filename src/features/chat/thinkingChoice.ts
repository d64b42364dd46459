// Whether a model that can be told to skip its thinking (Qwen3's enable_thinking) thinks before it
// answers: the user's choice, kept in this browser. Thinking is the model's own default, so it is
// on until the user turns it off.

const KEY = 'endless-chat:thinking';

export function loadThinking(): boolean {
  try {
    return localStorage.getItem(KEY) !== 'off';
  } catch {
    return true;
  }
}

export function saveThinking(on: boolean): void {
  try {
    localStorage.setItem(KEY, on ? 'on' : 'off');
  } catch {
    // Not remembered (storage refused); the choice still holds for this page.
  }
}
