// The source panel: the cited passage with the exact cited span marked inside its context,
// the document's title, section path and metadata, and the whole document opened at that
// place. Passage text is only ever set as text.

import { call } from './api.js';
import { h, clear, fill } from './dom.js';
import { t, valueLabel } from './i18n.js';

/** Metadata shown first, in this order; the rest follow. */
const FIRST = ['subject', 'grade_band', 'edition', 'unit', 'material_type', 'department', 'strength', 'category', 'district'];

function metadataList(doc) {
  const keys = Object.keys(doc.metadata ?? {}).sort((a, b) => {
    const ia = FIRST.indexOf(a) < 0 ? 99 : FIRST.indexOf(a);
    const ib = FIRST.indexOf(b) < 0 ? 99 : FIRST.indexOf(b);
    return ia - ib || a.localeCompare(b);
  });
  return h(
    'dl',
    { class: 'meta' },
    keys.map((k) => [h('dt', {}, t('field_' + k, k)), h('dd', { 'data-field': k }, valueLabel(doc.metadata[k]))]),
    doc.classification && doc.classification !== 'public'
      ? [h('dt', {}, '🔒'), h('dd', { class: 'level' }, valueLabel(doc.classification))]
      : null,
  );
}

function passage(doc, whole) {
  return h(
    'div',
    { class: whole ? 'passage whole' : 'passage', lang: doc.metadata?.lang === 'en' ? 'en' : 'zh' },
    doc.more_before ? h('span', { class: 'more' }, '… ') : null,
    h('span', { class: 'context' }, doc.before),
    h('mark', { class: 'cited', tabindex: '-1' }, doc.cited),
    h('span', { class: 'context' }, doc.after),
    doc.more_after ? h('span', { class: 'more' }, ' …') : null,
  );
}

export class SourcePanel {
  constructor({ panel, dialog, onUnauthorized }) {
    this.panel = panel;
    this.dialog = dialog;
    this.onUnauthorized = onUnauthorized;
    this.returnFocus = null;
    panel.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') this.close();
    });
  }

  close() {
    this.panel.hidden = true;
    document.body.classList.remove('panel-open');
    this.returnFocus?.focus();
  }

  /** Opens the panel on citation `c` (as the answer's events gave it). */
  async open(c, from) {
    this.returnFocus = from ?? document.activeElement;
    const body = h('div', { class: 'panel-body' }, h('p', { class: 'muted' }, t('loading')));
    const heading = h('h2', { id: 'source-title', tabindex: '-1' }, `[${c.marker}] ${c.title}`);
    fill(this.panel, 
      h('header', {}, heading, h('button', { class: 'icon', 'aria-label': t('close'), title: t('close'), onclick: () => this.close() }, '✕')),
      body,
    );
    this.panel.setAttribute('aria-labelledby', 'source-title');
    this.panel.hidden = false;
    document.body.classList.add('panel-open');
    heading.focus();
    let doc;
    try {
      const q = new URLSearchParams({ chunk: c.chunk_id, context: '700' });
      doc = await call('GET', `/v1/documents/${encodeURIComponent(c.doc_id)}?${q}`);
    } catch (e) {
      if (e.status === 401) this.onUnauthorized(e);
      fill(body, h('p', { class: 'error', role: 'alert' }, `${t('error')}: ${e.message}`));
      return;
    }
    fill(body, 
      doc.section ? h('p', { class: 'section' }, h('span', { class: 'muted' }, t('section') + ' '), doc.section) : null,
      metadataList(doc),
      passage(doc, false),
      c.note ? h('p', { class: 'note' }, c.note) : null,
      h(
        'p',
        { class: 'file muted' },
        `${t('file')}: ${doc.path}${doc.line ? ':' + doc.line : ''} · ${t('bytes')} ${doc.start}–${doc.end}`,
      ),
      h('button', { class: 'secondary', onclick: () => this.openWhole(c) }, t('openDocument')),
    );
    body.querySelector('mark.cited')?.scrollIntoView({ block: 'center' });
  }

  /** The whole document in a dialog, scrolled to the cited passage. */
  async openWhole(c) {
    const content = h('div', { class: 'doc-body' }, h('p', { class: 'muted' }, t('loading')));
    fill(this.dialog, 
      h(
        'header',
        {},
        h('h2', { id: 'doc-title' }, c.title),
        h('button', { class: 'icon', 'aria-label': t('close'), title: t('close'), onclick: () => this.dialog.close() }, '✕'),
      ),
      content,
    );
    this.dialog.setAttribute('aria-labelledby', 'doc-title');
    this.dialog.showModal();
    try {
      const q = new URLSearchParams({ chunk: c.chunk_id });
      const doc = await call('GET', `/v1/documents/${encodeURIComponent(c.doc_id)}?${q}`);
      fill(content, metadataList(doc), passage(doc, true));
      const mark = content.querySelector('mark.cited');
      mark?.scrollIntoView({ block: 'center' });
      mark?.focus({ preventScroll: true });
    } catch (e) {
      fill(content, h('p', { class: 'error', role: 'alert' }, `${t('error')}: ${e.message}`));
    }
  }
}
