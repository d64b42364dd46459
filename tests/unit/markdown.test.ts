// The app's message renderer (MessageView with its Markdown) on hostile text, rendered to static
// HTML in Node: whatever the Content-Security-Policy would block later, the renderer itself must
// emit no raw HTML element, no event handler and no script-capable URL.

import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { Icon } from '../../src/ui/icons.tsx';
import { MessageView } from '../../src/features/chat/MessageView.tsx';
import type { StoredMessage } from '../../src/storage/records.ts';
import { HOSTILE_PAYLOADS } from '../e2e/hostileConversation.ts';

/** Ways past a Markdown renderer beyond the e2e payloads: SVG, nested frames, encoded and disguised schemes. */
const MORE_PAYLOADS = [
  '<svg><script>alert(1)</script></svg>',
  '<svg><a xlink:href="javascript:alert(1)"><text>svg link</text></a></svg>',
  '<math><mtext><script>alert(1)</script></mtext></math>',
  '<object data="javascript:alert(1)"></object>',
  '<embed src="data:text/html,<script>alert(1)</script>">',
  '<form action="javascript:alert(1)"><button>go</button></form>',
  '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">raw data link</a>',
  '<img src="data:image/svg+xml,<svg onload=alert(1)>">',
  '<p style="background:url(javascript:alert(1))" onclick="alert(1)">styled</p>',
  '[upper case](JaVaScRiPt:alert(1))',
  '[tab inside](java\tscript:alert(1))',
  '[entity](&#106;avascript:alert(1))',
  '[leading space]( javascript:alert(1))',
  '[vbscript](vbscript:msgbox(1))',
  '[reference link][evil]\n\n[evil]: javascript:alert(1)',
  '![data image](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)',
  '<data:text/html,<script>alert(1)</script>>',
  '| table | <img src=x onerror=alert(1)> |\n|---|---|\n| [cell](javascript:alert(1)) | <b>bold</b> |',
  '> quote <iframe src="https://example.org"></iframe>',
  'footnote[^1]\n\n[^1]: <script>alert(1)</script> [x](javascript:alert(1))',
];

const PAYLOADS = [...HOSTILE_PAYLOADS, ...MORE_PAYLOADS];

/** Every element Markdown, GFM and the message chrome may produce; a raw HTML tag is none of these. */
const ALLOWED_TAGS = new Set([
  'article', 'header', 'footer', 'span', 'div', 'p', 'a', 'code', 'pre', 'button', 'em', 'strong', 'del', 'blockquote',
  'ul', 'ol', 'li', 'hr', 'br', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'table', 'thead', 'tbody', 'tr', 'th', 'td',
  'section', 'sup', 'input',
]);

/** The icons the message chrome draws itself: the only SVG allowed, taken out before the checks. */
const OWN_ICONS = (['copy', 'edit', 'regenerate'] as const).map((name) => renderToStaticMarkup(createElement(Icon, { name })));

interface Tag {
  name: string;
  attrs: [string, string][];
}

/**
 * The start tags of React's static markup. React writes every attribute as name="value" with `"`, `<`
 * and `>` escaped, and escapes text, so a `<` that starts a tag here is an element React created.
 */
function tagsOf(html: string): Tag[] {
  return [...html.matchAll(/<([a-zA-Z][\w:-]*)((?:\s+[^\s=>/]+(?:="[^"]*")?)*)\s*\/?>/g)].map((m) => ({
    name: m[1].toLowerCase(),
    attrs: [...m[2].matchAll(/\s+([^\s=>/]+)(?:="([^"]*)")?/g)].map((a) => [a[1].toLowerCase(), decode(a[2] ?? '')]),
  }));
}

function decode(value: string): string {
  return value.replace(/&quot;/g, '"').replace(/&#x27;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

function message(role: 'user' | 'assistant', content: string): StoredMessage {
  return { id: `m-${role}`, role, content, createdAt: 1, status: role === 'assistant' ? 'done' : undefined };
}

function render(role: 'user' | 'assistant', content: string): string {
  const actions = { edit: () => {}, regenerate: () => {}, showVersion: () => {} };
  const html = renderToStaticMarkup(createElement(MessageView, { message: message(role, content), place: 'in', last: true, canAct: true, actions }));
  return OWN_ICONS.reduce((rest, icon) => rest.split(icon).join(''), html);
}

/** What in the markup could run or load something, each as a sentence naming the tag. */
function dangers(html: string): string[] {
  const found: string[] = [];
  for (const { name, attrs } of tagsOf(html)) {
    if (!ALLOWED_TAGS.has(name)) found.push(`<${name}> element`);
    if (name === 'input' && !attrs.some(([n]) => n === 'disabled')) found.push('an enabled <input>');
    for (const [attr, value] of attrs) {
      if (attr.startsWith('on')) found.push(`${attr} on <${name}>`);
      if (attr === 'style' || attr === 'srcdoc') found.push(`${attr} on <${name}>`);
      if (/^(href|src|xlink:href|action|formaction|data)$/.test(attr) && !/^(https?:|mailto:|#)/i.test(value.trim())) {
        found.push(`${attr}="${value}" on <${name}>`);
      }
    }
  }
  return found;
}

describe('the message renderer on hostile text', () => {
  for (const role of ['assistant', 'user'] as const) {
    for (const payload of PAYLOADS) {
      it(`${role}: ${JSON.stringify(payload).slice(0, 90)} renders nothing that runs or loads`, () => {
        const html = render(role, payload);
        expect(dangers(html), html).toEqual([]);
      });
    }
  }

  it('shows raw HTML as the text it is', () => {
    const html = render('assistant', '<script>alert(1)</script> and <b onmouseover="x()">bold?</b>');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('&lt;b onmouseover=&quot;x()&quot;&gt;bold?&lt;/b&gt;');
  });

  it('keeps safe Markdown working: real links, code blocks with a copy button, tables', () => {
    const html = render('assistant', '[site](https://example.org) `x`\n\n```js\nlet a = 1;\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |');
    const tags = tagsOf(html);
    const link = tags.find((t) => t.name === 'a');
    expect(link?.attrs).toContainEqual(['href', 'https://example.org']);
    expect(link?.attrs).toContainEqual(['rel', 'noopener noreferrer nofollow']);
    expect(tags.filter((t) => t.name === 'pre')).toHaveLength(1);
    expect(html).toContain('aria-label="Copy code"');
    expect(tags.filter((t) => t.name === 'td')).toHaveLength(2);
    expect(dangers(html)).toEqual([]);
  });

  it('the checks catch what they look for (a renderer that let HTML through would fail them)', () => {
    expect(dangers('<div><img src="x" onerror="alert(1)"><a href="javascript:alert(1)">x</a><svg></svg></div>')).toEqual([
      '<img> element',
      'src="x" on <img>',
      'onerror on <img>',
      'href="javascript:alert(1)" on <a>',
      '<svg> element',
    ]);
    expect(dangers('<a href="  JavaScript:alert(1)">x</a><p style="color:red">y</p>')).toEqual(['href="  JavaScript:alert(1)" on <a>', 'style on <p>']);
  });
});
