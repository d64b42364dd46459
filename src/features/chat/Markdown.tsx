// Renders a message as Markdown with highlighted code. Raw HTML in the text is shown as text,
// never parsed (react-markdown's default), unsafe link protocols (javascript:, data:) are
// stripped by its URL transform, and images are not fetched: nothing leaves the machine.

import { memo, type ComponentProps } from 'react';
import ReactMarkdown, { type Components, type ExtraProps } from 'react-markdown';
import rehypeHighlight from 'rehype-highlight';
import remarkGfm from 'remark-gfm';
import type { Element, ElementContent } from 'hast';
import { CopyButton } from './CopyButton.tsx';

const textOf = (nodes: ElementContent[]): string =>
  nodes.map((n) => (n.type === 'text' ? n.value : n.type === 'element' ? textOf(n.children) : '')).join('');

/** The language a fence names (```python), which remark puts on the code element as language-python. */
export function languageOf(pre: Element | undefined): string | null {
  const code = pre?.children.find((n): n is Element => n.type === 'element' && n.tagName === 'code');
  const classes = code?.properties.className;
  const named = Array.isArray(classes) ? classes.find((c): c is string => typeof c === 'string' && c.startsWith('language-')) : undefined;
  return named ? named.slice('language-'.length) : null;
}

function CodeBlock({ node, children, ...props }: ComponentProps<'pre'> & ExtraProps) {
  const language = languageOf(node);
  return (
    <div className="code-block">
      <div className="code-tools">
        {language && <span className="code-language">{language}</span>}
        <CopyButton text={node ? textOf(node.children) : ''} label="Copy code" />
      </div>
      <pre {...props}>{children}</pre>
    </div>
  );
}

function Link({ href, children }: ComponentProps<'a'> & ExtraProps) {
  if (!href) return <span className="dead-link">{children}</span>;
  return (
    <a href={href} target="_blank" rel="noopener noreferrer nofollow">
      {children}
    </a>
  );
}

function Image({ alt, src }: ComponentProps<'img'> & ExtraProps) {
  return <span className="image-ref">[image{alt ? `: ${alt}` : ''}{typeof src === 'string' && src ? ` (${src})` : ''}]</span>;
}

const components: Components = { pre: CodeBlock, a: Link, img: Image };
const remarkPlugins = [remarkGfm];
const rehypePlugins = [rehypeHighlight];

export const Markdown = memo(function Markdown({ text }: { text: string }) {
  return (
    <div className="markdown">
      <ReactMarkdown remarkPlugins={remarkPlugins} rehypePlugins={rehypePlugins} components={components}>
        {text}
      </ReactMarkdown>
    </div>
  );
});
