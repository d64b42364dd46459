// An exported conversation whose text tries every way into the page: script tags, event-handler
// attributes, javascript: and data: links, styles and frames, in raw HTML and in Markdown. Each
// payload calls window.__pwned(name), which the test installs and expects never to be called.

const call = (name: string) => `window.__pwned('${name}')`;

export const HOSTILE_PAYLOADS = [
  `<script>${call('script')}</script>`,
  `<img src=x onerror="${call('img-onerror')}">`,
  `<svg onload="${call('svg-onload')}"><circle r="5"/></svg>`,
  `<iframe src="javascript:${call('iframe')}"></iframe>`,
  `<iframe srcdoc="<script>parent.${call('srcdoc')}</script>"></iframe>`,
  `<a href="javascript:${call('raw-link')}">raw link</a>`,
  `<details open ontoggle="${call('details-ontoggle')}"><summary>x</summary></details>`,
  `<style>body { display: none }</style>`,
  `[markdown link](javascript:${call('md-link')})`,
  `[data link](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)`,
  `![markdown image](javascript:${call('md-image')})`,
  `<javascript:${call('autolink')}>`,
  '```html\n<script>' + call('code-block') + '</script>\n```',
];

export function hostileConversationFile(): string {
  return JSON.stringify({
    format: 'endless-chat/conversation',
    version: 1,
    conversation: {
      title: `<img src=x onerror="${call('title')}"> hostile`,
      systemPrompt: `<script>${call('system-prompt')}</script>`,
      createdAt: 1,
      messages: [
        { id: 'h1', role: 'user', content: HOSTILE_PAYLOADS.slice(0, 7).join('\n\n') },
        { id: 'h2', role: 'assistant', content: HOSTILE_PAYLOADS.slice(7).join('\n\n'), status: 'done' },
        { id: 'h3', role: 'user', content: `<b onmouseover="${call('mouseover')}">bold?</b> and <a href="https://example.org" onclick="${call('onclick')}">a real link</a>` },
      ],
    },
  });
}
