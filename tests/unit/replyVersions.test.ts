// The versions Regenerate keeps of a reply: their order, the one shown (the message itself, which
// the transcript reads), records saved before versions existed, and the arrows that show them.

import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { firstVersionId, replacing, showVersion, versionPlace, versionsOf } from '../../src/features/chat/replyVersions.ts';
import { MessageView } from '../../src/features/chat/MessageView.tsx';
import type { StoredMessage } from '../../src/storage/records.ts';

const reply = (id: string, content: string): StoredMessage => ({ id, role: 'assistant', content, createdAt: 1, status: 'done', finishReason: 'eos' });

/** Three versions written one after another by Regenerate: r3 shown. */
function threeVersions(): StoredMessage {
  return replacing(replacing(reply('r1', 'One.'), reply('r2', 'Two.')), reply('r3', 'Three.'));
}

const render = (message: StoredMessage, last = true) =>
  renderToStaticMarkup(createElement(MessageView, { message, place: 'in', last, canAct: true, actions: { edit: () => {}, regenerate: () => {}, showVersion: () => {} } }));

describe('the versions of a reply', () => {
  it('keeps each earlier version in order, the newest shown, with its own text and figures', () => {
    const message = threeVersions();
    expect(message.id).toBe('r3');
    expect(message.content).toBe('Three.');
    expect(versionPlace(message)).toEqual({ at: 2, count: 3 });
    expect(versionsOf(message).map((v) => v.content)).toEqual(['One.', 'Two.', 'Three.']);
  });

  it('shows another version in place, as the message the transcript reads, the others kept in order', () => {
    const first = showVersion(threeVersions(), 0);
    expect(first).toMatchObject({ id: 'r1', role: 'assistant', content: 'One.' });
    expect(versionPlace(first)).toEqual({ at: 0, count: 3 });
    expect(versionsOf(first).map((v) => v.id)).toEqual(['r1', 'r2', 'r3']);
    expect(showVersion(showVersion(first, 2), 1)).toMatchObject({ id: 'r2', content: 'Two.', shownAt: 1 });
    // No such version: the same message.
    expect(showVersion(first, 3)).toBe(first);
  });

  it('keeps the id of its first version whichever is shown, as its place on screen', () => {
    const message = threeVersions();
    expect([0, 1, 2].map((i) => firstVersionId(showVersion(message, i)))).toEqual(['r1', 'r1', 'r1']);
    expect(firstVersionId(reply('only', 'Only.'))).toBe('only');
  });

  it('adds a regenerated version after all of them, whichever was shown', () => {
    const again = replacing(showVersion(threeVersions(), 0), reply('r4', 'Four.'));
    expect(versionsOf(again).map((v) => v.id)).toEqual(['r1', 'r2', 'r3', 'r4']);
    expect(versionPlace(again)).toEqual({ at: 3, count: 4 });
  });

  it('drops a version stopped before its first word: it has nothing to go back to', () => {
    const stopped: StoredMessage = { ...reply('r2', ''), status: 'stopped', finishReason: 'aborted' };
    const next = replacing(replacing(reply('r1', 'One.'), stopped), reply('r3', 'Three.'));
    expect(versionsOf(next).map((v) => v.id)).toEqual(['r1', 'r3']);
    expect(replacing(stopped, reply('r4', 'Four.'))).toEqual(reply('r4', 'Four.'));
  });

  it('reads a reply saved before versions existed as its only version', () => {
    expect(versionsOf(reply('old', 'Old.'))).toEqual([{ id: 'old', content: 'Old.', createdAt: 1, status: 'done', finishReason: 'eos' }]);
    expect(versionPlace(reply('old', 'Old.'))).toEqual({ at: 0, count: 1 });
  });

  it('shows ‹ 2/3 › under the last reply only, the arrows off at either end', () => {
    const second = showVersion(threeVersions(), 1);
    const html = render(second);
    expect(html).toContain('data-testid="reply-version">2/3<');
    const off = (name: string) => new RegExp(`<button[^>]*disabled=""[^>]*aria-label="${name} version"`);
    expect(html).not.toMatch(off('Previous'));
    expect(html).not.toMatch(off('Next'));
    expect(render(showVersion(second, 0))).toMatch(off('Previous'));
    expect(render(showVersion(second, 2))).toMatch(off('Next'));
    expect(render(second, false)).not.toContain('reply-version');
    expect(render(reply('only', 'Only.'))).not.toContain('reply-version');
  });
});

describe('a reply stopped before its first word', () => {
  it('says so, and how to start it again', () => {
    const html = render({ ...reply('r', ''), status: 'stopped', finishReason: 'aborted' });
    expect(html).toContain('Stopped before the reply began.');
    expect(render({ ...reply('r', 'Once'), status: 'stopped', finishReason: 'aborted' })).toContain('Stopped.');
  });
});
