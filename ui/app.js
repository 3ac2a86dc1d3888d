// The experiment page: asks the server for a page view (two lists, their
// sides and a page token), renders one column per list, and reports clicks.
// Plain DOM and textContent only: nothing from the server is parsed as HTML.
'use strict';

(() => {
  const columnsEl = document.getElementById('columns');
  const liveEl = document.getElementById('live');
  const COLUMN_TITLES = { left: 'List 1', right: 'List 2' };
  let page = null;

  const { el, showNotice } = window.dom;

  /** A stable hue from the title, so each show keeps its colours. */
  function titleHue(title) {
    let h = 2166136261;
    for (let i = 0; i < title.length; i++) h = Math.imul(h ^ title.charCodeAt(i), 16777619);
    return (h >>> 0) % 360;
  }

  /** The designed stand-in for a missing or broken poster. */
  function fallbackArt(show) {
    const art = el('div', 'art');
    art.setAttribute('aria-hidden', 'true');
    art.style.setProperty('--hue', String(titleHue(show.title)));
    art.append(el('span', 'art-title', show.title));
    const foot = [show.year, show.genres[0]].filter(Boolean).join(' · ');
    if (foot) art.append(el('span', 'art-meta', foot));
    return art;
  }

  function poster(show) {
    if (!show.image) return fallbackArt(show);
    const img = el('img', 'poster');
    img.alt = '';
    img.loading = 'lazy';
    img.referrerPolicy = 'no-referrer';
    img.addEventListener('error', () => img.replaceWith(fallbackArt(show)), { once: true });
    img.src = show.image;
    return img;
  }

  function card(show, column, clickable) {
    const node = el('article', clickable ? 'card clickable' : 'card');
    node.dataset.itemId = String(show.id);
    node.append(poster(show));
    const body = el('div', 'card-body');
    const titleRow = el('div', 'card-title-row');
    titleRow.append(el('h3', 'card-title', show.title));
    if (show.inBoth) titleRow.append(el('span', 'badge', 'in both'));
    body.append(titleRow);
    const meta = [show.year, show.kind === 'series' ? 'Series' : 'Film'].filter(Boolean).join(' · ');
    body.append(el('p', 'card-meta', meta));
    if (show.genres.length > 0) {
      const tags = el('ul', 'tags');
      for (const genre of show.genres.slice(0, 3)) tags.append(el('li', 'tag', genre));
      body.append(tags);
    }
    if (show.description) body.append(el('p', 'card-desc', show.description));
    if (clickable) {
      const action = el('button', 'card-action', 'I’d watch this');
      action.type = 'button';
      action.setAttribute('aria-pressed', 'false');
      action.setAttribute('aria-label', `I’d watch ${show.title}`);
      body.append(action);
      // the whole card is the target for a pointer; the button is the keyboard's way in
      node.addEventListener('click', () => choose(node, show, column));
    }
    node.append(body);
    return node;
  }

  function column(col, index, clickable) {
    const section = el('section', 'column');
    section.dataset.column = col.side;
    section.dataset.arm = col.arm;
    const head = el('header', 'column-head');
    head.append(el('h2', 'column-title', clickable ? COLUMN_TITLES[col.side] : 'Your local picks'));
    head.append(el('span', 'column-count', `${col.shows.length} shows`));
    section.setAttribute('aria-label', clickable ? COLUMN_TITLES[col.side] : 'Your local picks');
    section.append(head);
    const list = el('ol', 'cards');
    for (const show of col.shows) {
      const li = el('li');
      li.append(card(show, col, clickable));
      list.append(li);
    }
    if (col.shows.length === 0) section.append(el('p', 'empty', 'Nothing to recommend yet: every show you might like has been watched, or the model is still empty.'));
    else section.append(list);
    section.style.setProperty('--delay', `${index * 80}ms`);
    return section;
  }

  function render(data) {
    page = data;
    columnsEl.replaceChildren();
    if (data.message) showNotice(data.state === 'untrained' ? 'info' : 'waiting', data.message);
    const clickable = data.state === 'experiment';
    columnsEl.classList.toggle('single', !clickable);
    data.columns.forEach((col, i) => columnsEl.append(column(col, i, clickable)));
  }

  function confirm(node, show) {
    node.classList.add('picked');
    const action = node.querySelector('.card-action');
    action.setAttribute('aria-pressed', 'true');
    action.textContent = '✓ Noted — thanks!';
    action.dataset.confirmation = '';
    liveEl.textContent = `Noted: ${show.title}`;
  }

  async function choose(node, show, col) {
    if (node.classList.contains('picked') || node.dataset.busy) return;
    node.dataset.busy = '1';
    try {
      const res = await fetch('/api/click', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ pageView: page.pageView, token: page.token, side: col.side, item: show.id }),
      });
      const body = await res.json().catch(() => ({}));
      if (res.status === 409) {
        showNotice('waiting', 'This page is out of date. Reload it to see fresh recommendations.');
        return;
      }
      if (!res.ok) throw new Error(body.message || `HTTP ${res.status}`);
      confirm(node, show);
    } catch (err) {
      liveEl.textContent = `Could not record that click (${err.message}). Please try again.`;
    } finally {
      delete node.dataset.busy;
    }
  }

  async function load() {
    try {
      const res = await fetch('/api/views', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      const data = await res.json().catch(() => ({}));
      if (!res.ok) throw new Error(data.message || `HTTP ${res.status}`);
      render(data);
    } catch (err) {
      columnsEl.replaceChildren();
      showNotice('error', `Could not load your recommendations: ${err.message}`);
    }
  }

  /** What protects this datasite's contribution, as the server's active settings say. */
  async function showProtection() {
    const target = document.getElementById('protection');
    try {
      const res = await fetch('/api/status');
      const status = await res.json();
      if (res.ok && status.protection) target.textContent = status.protection;
      if (res.ok && status.budget) document.getElementById('budget').textContent = status.budget;
    } catch {
      target.textContent = 'Your viewing history stays on this computer.';
    }
  }

  void load();
  void showProtection();
})();
