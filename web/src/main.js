// The chat page: signing in, the conversation list, asking with the answer streaming in,
// sources one click away, feedback, and the pickers that narrow a question. Everything the
// user may see is decided by the server from their session; the page only asks.

import * as api from './api.js';
import { h, clear, fill } from './dom.js';
import { t, lang, setLang, valueLabel } from './i18n.js';
import { markdownHtml, linkCitations } from './render.js';
import { SourcePanel } from './sources.js';

const app = document.getElementById('app');

const state = {
  me: null,
  domains: [],
  domain: '',
  filters: {},
  conversations: [],
  conversationId: null,
  turns: [],
  controller: null,
};

let els = {};
let panel = null;

// ---- signing in ----------------------------------------------------------------------------

function languageButton() {
  return h(
    'button',
    {
      class: 'lang',
      type: 'button',
      'aria-label': t('languageLabel'),
      title: t('languageLabel'),
      onclick: () => {
        setLang(lang() === 'zh' ? 'en' : 'zh');
        state.me ? renderApp() : renderSignIn();
      },
    },
    t('language'),
  );
}

function renderSignIn(message) {
  document.title = `${t('appName')} · ${t('signIn')}`;
  const error = h('p', { class: 'error', role: 'alert', id: 'signin-error' }, message ?? '');
  const name = h('input', { id: 'name', name: 'username', autocomplete: 'username', required: true, autofocus: true });
  const password = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const form = h(
    'form',
    {
      class: 'signin',
      onsubmit: async (e) => {
        e.preventDefault();
        error.textContent = '';
        try {
          state.me = await api.call('POST', '/auth/login', { name: name.value.trim(), password: password.value });
          await start();
        } catch (err) {
          error.textContent = err.code === 'bad_credentials' ? t('badCredentials') : `${t('error')}: ${err.message}`;
          password.select();
        }
      },
    },
    h('h1', {}, t('appName')),
    h('p', { class: 'muted' }, t('tagline')),
    h('label', { for: 'name' }, t('userName')),
    name,
    h('label', { for: 'password' }, t('password')),
    password,
    error,
    h('button', { type: 'submit', class: 'primary' }, t('signIn')),
    state.guests
      ? [
          h('button', { type: 'button', class: 'link', id: 'guest', onclick: () => startAsGuest() }, t('continueAsGuest')),
          h('p', { class: 'muted small' }, t('guestNote')),
        ]
      : null,
  );
  fill(app, h('main', { class: 'signin-page' }, h('div', { class: 'signin-top' }, languageButton()), form));
  name.focus();
}

async function startAsGuest() {
  state.me = { user: null, guests: true, clearance: 'public', answers: state.answers };
  await start();
}

function expired() {
  // The cookie no longer opens a session: drop it, or every later request (a guest's too)
  // would be refused the same way.
  api.call('POST', '/auth/logout').catch(() => {});
  state.me = null;
  state.turns = [];
  state.conversationId = null;
  renderSignIn(t('sessionEnded'));
}

// ---- the app -------------------------------------------------------------------------------

async function start() {
  state.answers = state.me.answers ?? state.answers;
  try {
    const [{ domains }] = await Promise.all([api.call('GET', '/v1/domains'), loadConversations()]);
    state.domains = domains;
  } catch (e) {
    if (e.status === 401) return expired();
    throw e;
  }
  if (!state.domains.some((d) => d.name === state.domain)) {
    state.domain = state.domains.some((d) => d.name === 'education') ? 'education' : '';
  }
  renderApp();
}

async function loadConversations() {
  if (!state.me?.user) {
    state.conversations = [];
    return;
  }
  const { conversations } = await api.call('GET', '/v1/conversations');
  state.conversations = conversations;
}

function roleLabel() {
  const u = state.me?.user;
  if (!u) return t('guest');
  return t({ student: 'roleStudent', teacher: 'roleTeacher' }[u.role] ?? 'guest');
}

function renderApp() {
  document.title = t('appName');
  els = {};
  els.list = h('nav', { class: 'conversations', 'aria-label': t('conversations') });
  els.sidebar = h(
    'aside',
    { class: 'sidebar', id: 'sidebar' },
    h('button', { class: 'primary new', type: 'button', onclick: () => newConversation() }, '+ ' + t('newConversation')),
    els.list,
  );
  els.thread = h('section', { class: 'thread', 'aria-label': t('conversations') });
  els.status = h('p', { class: 'sr-only', role: 'status', 'aria-live': 'polite' });
  els.pickers = h('div', { class: 'pickers' });
  els.input = h('textarea', {
    id: 'question',
    rows: '2',
    placeholder: t('askPlaceholder'),
    'aria-label': t('askPlaceholder'),
    onkeydown: (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        els.form.requestSubmit();
      }
    },
  });
  els.send = h('button', { type: 'submit', class: 'primary', id: 'send' }, t('send'));
  els.form = h(
    'form',
    {
      class: 'composer',
      onsubmit: (e) => {
        e.preventDefault();
        if (state.controller) {
          state.controller.abort();
          return;
        }
        const q = els.input.value.trim();
        if (!q) return;
        els.input.value = '';
        send(q);
      },
    },
    els.pickers,
    h('div', { class: 'compose-row' }, els.input, els.send),
  );
  const menu = h(
    'button',
    {
      class: 'icon menu',
      type: 'button',
      'aria-label': t('menu'),
      'aria-controls': 'sidebar',
      'aria-expanded': 'false',
      onclick: () => {
        const open = document.body.classList.toggle('sidebar-open');
        menu.setAttribute('aria-expanded', String(open));
      },
    },
    '☰',
  );
  const header = h(
    'header',
    { class: 'top' },
    menu,
    h('h1', {}, t('appName')),
    state.answers === 'extractive' ? h('span', { class: 'badge', title: t('extractiveTitle') }, t('extractive')) : null,
    h('span', { class: 'spacer' }),
    languageButton(),
    h('span', { class: 'who', id: 'who' }, state.me.user ? `${state.me.user.name} · ${roleLabel()}` : roleLabel()),
    state.me.user ? h('button', { class: 'secondary', type: 'button', onclick: () => signOut() }, t('signOut')) : h('button', { class: 'secondary', type: 'button', onclick: () => renderSignIn() }, t('signIn')),
  );
  els.panel = h('aside', { class: 'source-panel', id: 'source-panel', role: 'dialog', hidden: true });
  els.dialog = h('dialog', { class: 'document' });
  panel = new SourcePanel({ panel: els.panel, dialog: els.dialog, onUnauthorized: expired });
  fill(app, 
    header,
    h('div', { class: 'layout' }, els.sidebar, h('main', { class: 'chat' }, els.thread, els.form), els.panel),
    els.dialog,
    els.status,
  );
  renderPickers();
  renderList();
  renderThread();
  els.input.focus();
}

function renderPickers() {
  const domainSelect = h(
    'select',
    {
      id: 'domain',
      'aria-label': t('domain'),
      onchange: () => {
        state.domain = domainSelect.value;
        state.filters = {};
        renderPickers();
      },
    },
    h('option', { value: '' }, t('allDomains')),
    state.domains.map((d) => h('option', { value: d.name, selected: d.name === state.domain }, t('domain_' + d.name, d.name))),
  );
  const domain = state.domains.find((d) => d.name === state.domain);
  const facets = Object.entries(domain?.facets ?? {}).map(([key, values]) => {
    const select = h(
      'select',
      {
        id: 'facet-' + key,
        'data-facet': key,
        'aria-label': t('field_' + key, key),
        onchange: () => {
          if (select.value) state.filters[key] = select.value;
          else delete state.filters[key];
        },
      },
      h('option', { value: '' }, `${t('field_' + key, key)}: ${t('anyValue')}`),
      values.map((v) => h('option', { value: v.value, selected: state.filters[key] === v.value }, `${t('field_' + key, key)}: ${valueLabel(v.value)}`)),
    );
    return select;
  });
  fill(els.pickers, domainSelect, ...facets);
}

function renderList() {
  if (!state.me.user) {
    fill(els.list, h('p', { class: 'muted small' }, t('guestNote')));
    return;
  }
  if (state.conversations.length === 0) {
    fill(els.list, h('p', { class: 'muted small' }, t('noConversations')));
    return;
  }
  fill(els.list, 
    h(
      'ul',
      {},
      state.conversations.map((c) => {
        const name = c.title || c.first_question || (c.turns > 0 ? t('withheld') : t('untitled'));
        return h(
          'li',
          { class: c.id === state.conversationId ? 'current' : null, 'data-id': c.id },
          h('button', { class: 'open', type: 'button', title: name, 'aria-current': c.id === state.conversationId ? 'true' : null, onclick: () => openConversation(c.id) }, name),
          h('button', { class: 'icon', type: 'button', 'aria-label': `${t('rename')}: ${name}`, title: t('rename'), onclick: () => renameConversation(c, name) }, '✎'),
          h('button', { class: 'icon', type: 'button', 'aria-label': `${t('delete')}: ${name}`, title: t('delete'), onclick: () => deleteConversation(c) }, '🗑'),
        );
      }),
    ),
  );
}

async function refreshList() {
  try {
    await loadConversations();
    renderList();
  } catch (e) {
    if (e.status === 401) expired();
  }
}

function newConversation() {
  state.controller?.abort();
  state.conversationId = null;
  state.turns = [];
  document.body.classList.remove('sidebar-open');
  renderThread();
  renderList();
  els.input.focus();
}

async function openConversation(id) {
  state.controller?.abort();
  try {
    const c = await api.call('GET', `/v1/conversations/${encodeURIComponent(id)}`);
    state.conversationId = c.id;
    state.turns = c.turns.map((tv) => ({
      question: tv.withheld ? t('withheld') : tv.question ?? '',
      answer: tv.withheld ? '' : tv.answer ?? '',
      citations: new Map((tv.citations ?? []).map((x) => [x.marker, x])),
      notices: tv.notices ?? [],
      mode: tv.mode,
      abstained: tv.abstained,
      query: tv.query,
      seq: tv.seq,
      withheld: tv.withheld,
    }));
  } catch (e) {
    if (e.status === 401) return expired();
    window.alert(`${t('error')}: ${e.message}`);
    return;
  }
  document.body.classList.remove('sidebar-open');
  renderThread();
  renderList();
}

async function renameConversation(c, current) {
  const title = window.prompt(t('renamePrompt'), c.title || current);
  if (title === null) return;
  try {
    await api.call('PATCH', `/v1/conversations/${encodeURIComponent(c.id)}`, { title });
  } catch (e) {
    if (e.status === 401) return expired();
    window.alert(`${t('error')}: ${e.message}`);
  }
  await refreshList();
}

async function deleteConversation(c) {
  if (!window.confirm(t('deleteConfirm'))) return;
  try {
    await api.call('DELETE', `/v1/conversations/${encodeURIComponent(c.id)}`);
  } catch (e) {
    if (e.status === 401) return expired();
    window.alert(`${t('error')}: ${e.message}`);
    return;
  }
  if (state.conversationId === c.id) newConversation();
  await refreshList();
}

async function signOut() {
  state.controller?.abort();
  try {
    await api.call('POST', '/auth/logout');
  } finally {
    state.me = null;
    state.turns = [];
    state.conversationId = null;
    renderSignIn();
  }
}

// ---- the thread ----------------------------------------------------------------------------

function renderThread() {
  clear(els.thread);
  if (state.turns.length === 0) {
    els.thread.append(h('div', { class: 'empty' }, h('h2', {}, t('emptyTitle')), h('p', { class: 'muted' }, t('emptyHint'))));
    return;
  }
  for (const turn of state.turns) {
    turn.el = h('article', { class: 'turn' });
    els.thread.append(turn.el);
    drawTurn(turn);
  }
  state.turns.at(-1)?.el.scrollIntoView({ block: 'end' });
}

// The query actually searched, when a follow-up was rewritten to stand alone.
function searchedFor(turn) {
  const q = (turn.query ?? '').trim();
  if (!q || q === turn.question.trim()) return null;
  return h('p', { class: 'searched muted', dir: 'auto' }, `${t('searchedFor')}: ${q}`);
}

function drawTurn(turn) {
  const answer = h('div', { class: turn.abstained ? 'answer markdown abstained' : 'answer markdown' });
  answer.innerHTML = markdownHtml(turn.answer);
  linkCitations(answer, turn.citations, (n, a) => panel.open(turn.citations.get(n), a));
  const waiting = turn.streaming && !turn.answer;
  const sources = [...turn.citations.values()].sort((a, b) => a.marker - b.marker);
  fill(turn.el, 
    h('div', { class: 'question', dir: 'auto' }, turn.question),
    h(
      'div',
      { class: 'reply', 'aria-busy': turn.streaming ? 'true' : 'false' },
      turn.mode === 'extractive' ? h('span', { class: 'badge', title: t('extractiveTitle') }, t('extractive')) : null,
      searchedFor(turn),
      turn.notices.map((n) => h('p', { class: 'notice', role: 'note' }, h('strong', {}, t('notice') + ': '), n)),
      waiting ? h('p', { class: 'muted thinking' }, t('thinking')) : answer,
      turn.error ? h('p', { class: 'error', role: 'alert' }, `${t('error')}: ${turn.error}`) : null,
      turn.stopped ? h('p', { class: 'muted' }, t('stopped')) : null,
      sources.length
        ? h(
            'ol',
            { class: 'source-list', 'aria-label': t('sources') },
            sources.map((c) =>
              h(
                'li',
                {},
                h(
                  'button',
                  { type: 'button', class: 'source', 'data-marker': c.marker, onclick: (e) => panel.open(c, e.currentTarget) },
                  h('span', { class: 'n' }, `[${c.marker}]`),
                  ` ${c.title}`,
                  c.section ? h('span', { class: 'muted' }, ` · ${c.section}`) : null,
                ),
              ),
            ),
          )
        : null,
      turn.streaming || turn.withheld ? null : actions(turn),
    ),
  );
}

let pending = new Set();
function redraw(turn) {
  pending.add(turn);
  if (pending.size > 1) return;
  requestAnimationFrame(() => {
    for (const t0 of pending) drawTurn(t0);
    pending = new Set();
    els.thread.lastElementChild?.scrollIntoView({ block: 'end' });
  });
}

function actions(turn) {
  const status = h('span', { class: 'muted small', role: 'status' });
  const copy = h(
    'button',
    {
      type: 'button',
      class: 'secondary small',
      onclick: async () => {
        await copyText(turn.answer);
        status.textContent = t('copied');
      },
    },
    t('copy'),
  );
  const row = h('div', { class: 'actions' }, copy);
  if (turn.seq && state.conversationId) {
    const comment = h('textarea', { rows: '2', class: 'comment', 'aria-label': t('feedbackComment'), placeholder: t('feedbackComment'), maxlength: '2000' });
    const form = h('form', { class: 'feedback', hidden: true }, comment, h('button', { type: 'submit', class: 'secondary small' }, t('feedbackSend')));
    let rating = 0;
    const rate = (value, label, icon) =>
      h(
        'button',
        {
          type: 'button',
          class: 'secondary small rate',
          'aria-label': label,
          title: label,
          'aria-pressed': 'false',
          onclick: (e) => {
            rating = value;
            row.querySelectorAll('.rate').forEach((b) => b.setAttribute('aria-pressed', String(b === e.currentTarget)));
            form.hidden = false;
            comment.focus();
          },
        },
        icon,
      );
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      try {
        await api.call('POST', `/v1/conversations/${encodeURIComponent(state.conversationId)}/feedback`, {
          seq: turn.seq,
          rating,
          comment: comment.value.trim() || null,
        });
        form.hidden = true;
        status.textContent = t('feedbackThanks');
      } catch (err) {
        if (err.status === 401) return expired();
        status.textContent = `${t('error')}: ${err.message}`;
      }
    });
    row.append(rate(1, t('helpful'), '👍'), rate(-1, t('notHelpful'), '👎'), form);
  }
  row.append(status);
  return row;
}

async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const area = h('textarea', { class: 'sr-only' });
    area.value = text;
    document.body.append(area);
    area.select();
    document.execCommand('copy');
    area.remove();
  }
}

async function send(question) {
  if (state.turns.length === 0) clear(els.thread);
  const turn = { question, answer: '', citations: new Map(), notices: [], mode: null, streaming: true };
  state.turns.push(turn);
  turn.el = h('article', { class: 'turn' });
  els.thread.append(turn.el);
  drawTurn(turn);
  turn.el.scrollIntoView({ block: 'end' });
  const controller = new AbortController();
  state.controller = controller;
  els.send.textContent = t('stop');
  els.send.classList.add('stop');
  const body = { question };
  if (state.domain) body.domain = state.domain;
  if (state.domain && Object.keys(state.filters).length) body.filters = { ...state.filters };
  if (state.conversationId) body.conversation_id = state.conversationId;
  const startedIn = state.conversationId;
  try {
    await api.ask(
      body,
      (name, data) => {
        if (name === 'started') {
          turn.mode = data.mode;
          turn.query = data.query;
          if (data.conversation_id && !state.conversationId) state.conversationId = data.conversation_id;
        } else if (name === 'text') {
          turn.answer += data.text;
        } else if (name === 'citation') {
          turn.citations.set(data.citation.marker, data.citation);
        } else if (name === 'notice') {
          turn.notices.push(data.text);
        } else if (name === 'done') {
          turn.answer = data.text;
          turn.citations = new Map(data.citations.map((c) => [c.marker, c]));
          turn.notices = data.notices;
          turn.abstained = data.abstained;
          turn.mode = data.mode;
          turn.query = data.query;
          turn.seq = data.turn;
        } else if (name === 'error') {
          turn.error = data.error?.message ?? 'error';
        }
        redraw(turn);
      },
      controller.signal,
    );
  } catch (e) {
    if (e.name === 'AbortError') turn.stopped = true;
    else if (e.status === 401) return expired();
    else turn.error = e.message;
  } finally {
    if (state.controller === controller) state.controller = null;
    turn.streaming = false;
    if (els.send) {
      els.send.textContent = t('send');
      els.send.classList.remove('stop');
    }
    if (state.turns.includes(turn)) drawTurn(turn);
    els.status.textContent = turn.error ? `${t('error')}: ${turn.error}` : turn.stopped ? t('stopped') : '';
  }
  if (!startedIn && state.me?.user) await refreshList();
}

// ---- boot ----------------------------------------------------------------------------------

async function boot() {
  fill(app, h('p', { class: 'muted boot' }, t('loading')));
  let me;
  let notice;
  try {
    try {
      me = await api.call('GET', '/auth/me');
    } catch (e) {
      if (e.status !== 401) throw e;
      await api.call('POST', '/auth/logout');
      notice = t('sessionEnded');
      me = await api.call('GET', '/auth/me');
    }
  } catch (e) {
    fill(app, h('p', { class: 'error', role: 'alert' }, `${t('error')}: ${e.message}`));
    return;
  }
  state.guests = me.guests;
  state.answers = me.answers;
  if (me.user) {
    state.me = me;
    await start();
  } else {
    renderSignIn(notice);
  }
}

boot();
