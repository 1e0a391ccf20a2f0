// Answers as people read them: Markdown (lists, tables, code) and mathematics ($…$, $$…$$,
// \(…\), \[…\]) rendered, and every [n] turned into a link to its source. Model output and
// passages are untrusted: raw HTML in them is shown as text, never run, and the result still
// goes through DOMPurify.

import { Marked } from 'marked';
import katex from 'katex';
import DOMPurify from 'dompurify';

function escapeHtml(s) {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

// Formulas come from passages and model output, so they are bounded: no size above 10em
// (`\rule{3000px}{3000px}` would cover the thread), few macro expansions, and a source too long
// to be a formula is shown as code.
const MAX_TEX_CHARS = 2000;

function tex(source, displayMode) {
  if (source.length > MAX_TEX_CHARS) return `<code>${escapeHtml(source)}</code>`;
  return katex.renderToString(source, {
    displayMode, throwOnError: false, trust: false, strict: 'ignore', output: 'htmlAndMathml', maxSize: 10, maxExpand: 100,
  });
}

// Inline: $…$ (not `$ 5` and not a price like $5 and $10) and \(…\).
const inlineMath = {
  name: 'inlineMath',
  level: 'inline',
  start(src) {
    const i = src.search(/\$|\\\(/);
    return i < 0 ? undefined : i;
  },
  tokenizer(src) {
    let m = /^\\\(([\s\S]+?)\\\)/.exec(src);
    if (m) return { type: 'inlineMath', raw: m[0], text: m[1].trim(), display: false };
    m = /^\$\$([\s\S]+?)\$\$/.exec(src);
    if (m) return { type: 'inlineMath', raw: m[0], text: m[1].trim(), display: true };
    m = /^\$(?!\s)((?:\\\$|[^$\n])+?)(?<!\s)\$(?!\d)/.exec(src);
    if (m) return { type: 'inlineMath', raw: m[0], text: m[1], display: false };
    return undefined;
  },
  renderer(token) {
    return tex(token.text, token.display);
  },
};

// Block: $$…$$ and \[…\] on lines of their own.
const blockMath = {
  name: 'blockMath',
  level: 'block',
  start(src) {
    const i = src.search(/^ {0,3}(\$\$|\\\[)/m);
    return i < 0 ? undefined : i;
  },
  tokenizer(src) {
    const m = /^ {0,3}(?:\$\$([\s\S]+?)\$\$|\\\[([\s\S]+?)\\\])[ \t]*(?:\n|$)/.exec(src);
    if (m) return { type: 'blockMath', raw: m[0], text: (m[1] ?? m[2]).trim() };
    return undefined;
  },
  renderer(token) {
    return `<div class="math-block">${tex(token.text, true)}</div>`;
  },
};

const marked = new Marked({
  gfm: true,
  breaks: true,
  extensions: [blockMath, inlineMath],
  renderer: {
    // Raw HTML in an answer is shown as the text it is.
    html(token) {
      return escapeHtml(token.text ?? token.raw ?? '');
    },
    // Links and images from an answer: links open elsewhere, images are not loaded.
    image(token) {
      return escapeHtml(token.text || token.href || '');
    },
  },
});

// A link in an answer or a passage was written by someone else: it opens in a new tab, sends
// no referrer, passes no ranking, and says where it goes before anyone clicks it.
DOMPurify.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'A' && node.getAttribute('href')) {
    node.setAttribute('target', '_blank');
    node.setAttribute('rel', 'noopener noreferrer nofollow ugc');
  }
});

/** The host a link leads to, when it leads off this site ('' otherwise). */
function foreignHost(href) {
  try {
    const url = new URL(href, window.location.href);
    if (url.host === window.location.host) return '';
    return url.host || url.protocol.replace(/:$/, '');
  } catch {
    return '';
  }
}

/** Markdown to sanitised HTML. */
export function markdownHtml(text) {
  const html = marked.parse(text ?? '', { async: false });
  const clean = DOMPurify.sanitize(html, { FORBID_TAGS: ['style', 'form', 'input', 'img'], FORBID_ATTR: ['srcset'] });
  const holder = document.createElement('template');
  holder.innerHTML = clean;
  for (const link of holder.content.querySelectorAll('a[href]')) {
    const host = foreignHost(link.getAttribute('href'));
    if (host && !link.textContent.includes(host)) {
      const shown = document.createElement('span');
      shown.className = 'link-host';
      shown.textContent = ` (${host})`;
      link.after(shown);
    }
  }
  return holder.innerHTML;
}

const MARKERS = /\[(\d{1,3}(?:\s*[,，、]\s*\d{1,3})*)\]/g;

/**
 * Replaces each `[n]` (or `[1, 3]`) in `root`'s text with links to the cited sources; markers
 * in code and formulas are left alone. `onCite(n)` is called when one is activated.
 */
export function linkCitations(root, known, onCite) {
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT, {
    acceptNode(node) {
      return node.parentElement?.closest('code, pre, .katex, a') ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT;
    },
  });
  const nodes = [];
  while (walker.nextNode()) {
    MARKERS.lastIndex = 0;
    if (MARKERS.test(walker.currentNode.data)) nodes.push(walker.currentNode);
  }
  for (const node of nodes) {
    const fragment = document.createDocumentFragment();
    let last = 0;
    MARKERS.lastIndex = 0;
    for (const m of node.data.matchAll(MARKERS)) {
      fragment.append(node.data.slice(last, m.index));
      const numbers = m[1].split(/\s*[,，、]\s*/).map(Number);
      fragment.append('[');
      numbers.forEach((n, i) => {
        if (i > 0) fragment.append(', ');
        if (known.has(n)) {
          const a = document.createElement('a');
          a.href = '#source-' + n;
          a.className = 'cite';
          a.dataset.marker = String(n);
          a.textContent = String(n);
          a.addEventListener('click', (e) => {
            e.preventDefault();
            onCite(n, a);
          });
          fragment.append(a);
        } else {
          fragment.append(String(n));
        }
      });
      fragment.append(']');
      last = m.index + m[0].length;
    }
    fragment.append(node.data.slice(last));
    node.replaceWith(fragment);
  }
}
