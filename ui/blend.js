// The blend page: the consent form (POST /api/blend) and the watch-together
// lists from GET /api/blend. Plain DOM and textContent only.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const form = $('consent');
  const input = $('friend');
  const withdraw = $('withdraw');
  const status = $('status');
  const lists = $('lists');

  const { el, showNotice } = window.dom;

  function meter(label, value, className) {
    const row = el('div', 'meter');
    const bar = el('span', 'bar');
    const fill = el('span', `fill ${className}`);
    fill.style.width = `${value}%`;
    bar.append(fill);
    row.append(el('span', null, label), bar, el('span', null, value));
    return row;
  }

  function item(show) {
    const li = el('li');
    li.dataset.itemId = String(show.item);
    const meta = [show.kind === 'series' ? 'Series' : 'Film', show.year, show.genres.slice(0, 3).join(', ')].filter((x) => x !== null && x !== '').join(' · ');
    li.append(el('p', 'title', show.title), el('p', 'meta', meta), el('p', 'reason', show.reason), meter('You', show.mine, 'mine'), meter('Them', show.theirs, 'theirs'));
    return li;
  }

  function render(view) {
    status.textContent = view.message;
    $('protection').textContent = view.protection;
    withdraw.hidden = view.friend === null;
    if (document.activeElement !== input) input.value = view.friend ?? '';
    lists.replaceChildren(
      ...view.lists.map((list) => {
        const panel = el('article', 'panel');
        const title = view.lists.length > 1 ? `Watch together with ${view.friend} (their ${list.profile.replace('profile_', 'profile ')})` : `Watch together with ${view.friend}`;
        const ol = el('ol', 'together');
        ol.dataset.blendList = list.profile;
        ol.append(...list.items.map(item));
        panel.append(el('h2', null, title), el('p', 'hint', 'Among the shows you would both rate highest, those you agree on most. Shows you watched are left out; your friend\'s list leaves out theirs, so it can differ from yours.'), ol);
        if (list.items.length === 0) panel.append(el('p', 'empty', 'No show is left that neither of you has watched.'));
        return panel;
      }),
    );
    document.body.dataset.blendState = view.state;
  }

  async function call(method, body) {
    const res = await fetch('/api/blend', {
      method,
      headers: body === undefined ? { accept: 'application/json' } : { 'content-type': 'application/json', accept: 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const answer = await res.json().catch(() => null);
    if (!res.ok) throw new Error(answer && answer.message ? answer.message : `the server answered ${res.status}`);
    return answer;
  }

  async function change(friend) {
    for (const b of form.querySelectorAll('button')) b.disabled = true;
    try {
      render(await call('POST', { friend }));
      showNotice('info', null);
    } catch (err) {
      showNotice('error', err.message);
    } finally {
      for (const b of form.querySelectorAll('button')) b.disabled = false;
    }
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void change(input.value.trim());
  });
  withdraw.addEventListener('click', () => void change(null));

  call('GET')
    .then(render)
    .catch((err) => {
      status.textContent = '';
      showNotice('error', `Could not load the blend: ${err.message}`);
    });
})();
