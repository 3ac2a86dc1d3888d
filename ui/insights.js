// The insights page: personal charts from /api/insights, the community's
// figures from /api/community, drawn with Chart.js (served at /vendor/chart.umd.js).
// Plain DOM and textContent only: nothing from the server is parsed as HTML.
'use strict';

(() => {
  const RECENT_WEEKS = 104;
  const ACCENT = '#5a3fd8';
  const ACCENT_SOFT = 'rgba(90, 63, 216, 0.18)';
  const SECOND = '#d0742c';
  const MUTED = '#b8b4bf';
  const PALETTE = ['#5a3fd8', '#d0742c', '#1d7a4f', '#c23b6b', '#2f7fb5', '#a98a12', '#7b4fa0', '#3f9e9a', '#9a9aa3'];
  const charts = {};

  const $ = (id) => document.getElementById(id);
  const { el, showNotice } = window.dom;
  const fmt = (x, digits = 0) => Number(x).toLocaleString(undefined, { maximumFractionDigits: digits, minimumFractionDigits: digits });
  const pct = (x) => `${fmt(100 * x)}%`;
  const canvas = (name) => document.querySelector(`canvas[data-chart="${name}"]`);

  function draw(name, config) {
    if (charts[name]) charts[name].destroy();
    config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false }, config.options);
    charts[name] = new Chart(canvas(name), config);
  }

  async function getJson(url) {
    const res = await fetch(url, { headers: { accept: 'application/json' } });
    const body = await res.json().catch(() => null);
    if (!res.ok) throw new Error(body && body.message ? body.message : `${url} answered ${res.status}`);
    return body;
  }

  // ------------------------------------------------------------ personal

  function renderTotals(t) {
    const dl = $('totals');
    dl.replaceChildren();
    const add = (label, value) => {
      const box = el('div');
      box.append(el('dt', null, label), el('dd', null, value));
      dl.append(box);
    };
    add('Plays', fmt(t.plays));
    if (t.hours !== null) add('Hours', fmt(t.hours, 1));
    add('Shows and films', fmt(t.shows));
    if (t.firstDate) add('Since', t.firstDate);
    if (t.lastDate) add('Latest', t.lastDate);
  }

  function renderWeekly(personal) {
    const range = $('weekly-range').value;
    const all = personal.weekly;
    const weeks = range === 'all' ? all : all.slice(-RECENT_WEEKS);
    $('weekly-hint').textContent =
      `${weeks.length} of ${all.length} ISO weeks, zeros included.` +
      (personal.totals.hasDurations ? ' Hours from the durations in your export.' : ' Your export has no durations, so only plays are shown.');
    const datasets = [{ type: 'bar', label: 'Plays', data: weeks.map((w) => w.plays), backgroundColor: ACCENT, yAxisID: 'y' }];
    const scales = { x: { ticks: { autoSkip: true, maxTicksLimit: 14 } }, y: { beginAtZero: true, title: { display: true, text: 'plays' } } };
    if (personal.totals.hasDurations) {
      datasets.push({ type: 'line', label: 'Hours', data: weeks.map((w) => w.hours), borderColor: SECOND, backgroundColor: SECOND, pointRadius: 0, borderWidth: 2, yAxisID: 'y2' });
      scales.y2 = { position: 'right', beginAtZero: true, grid: { drawOnChartArea: false }, title: { display: true, text: 'hours' } };
    }
    draw('weekly', {
      data: { labels: weeks.map((w) => w.week), datasets },
      options: { scales, plugins: { tooltip: { callbacks: { title: (items) => `${items[0].label} (from ${weeks[items[0].dataIndex].start})` } } } },
    });
  }

  function renderTopShows(shows) {
    draw('top-shows', {
      type: 'bar',
      data: { labels: shows.map((s) => s.title), datasets: [{ label: 'Plays', data: shows.map((s) => s.plays), backgroundColor: shows.map((s) => (s.matched ? ACCENT : MUTED)) }] },
      options: { indexAxis: 'y', plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true }, y: { ticks: { autoSkip: false } } } },
    });
  }

  function renderGenres(genres) {
    $('genre-hint').textContent =
      'Plays per month by the catalogue genres of your shows (a play of a show with two genres counts half to each).' +
      (genres.unmatchedPlays > 0 ? ` ${fmt(genres.unmatchedPlays)} plays of shows not in the catalogue are left out.` : '');
    draw('genres', {
      type: 'bar',
      data: {
        labels: genres.months,
        datasets: genres.genres.map((g, i) => ({ label: g, data: genres.plays[i].map((v) => Math.round(v * 10) / 10), backgroundColor: PALETTE[i % PALETTE.length] })),
      },
      options: { scales: { x: { stacked: true, ticks: { autoSkip: true, maxTicksLimit: 18 } }, y: { stacked: true, beginAtZero: true } }, plugins: { legend: { position: 'bottom' } } },
    });
  }

  function renderBinges(binges) {
    $('binge-hint').textContent =
      `A binge day is ${binges.minEpisodesPerDay} or more episodes of one series in a day; consecutive binge days of the same series make one session. ` +
      `${fmt(binges.sessions)} sessions in all.`;
    draw('binges', {
      type: 'bar',
      data: { labels: binges.perMonth.map((m) => m.month), datasets: [{ label: 'Binge sessions', data: binges.perMonth.map((m) => m.sessions), backgroundColor: SECOND }] },
      options: { plugins: { legend: { display: false } }, scales: { x: { ticks: { autoSkip: true, maxTicksLimit: 12 } }, y: { beginAtZero: true, ticks: { precision: 0 } } } },
    });
    const list = $('binges');
    list.replaceChildren(
      ...binges.longest.map((b) => {
        const li = el('li');
        const when = b.days > 1 ? `${b.start} to ${b.end}` : b.start;
        li.append(el('strong', null, b.title), el('span', 'meta', ` · ${b.episodes} episodes, ${when}`));
        return li;
      }),
    );
  }

  function renderNotInCatalogue(shows) {
    $('not-in-catalogue-panel').hidden = shows.length === 0;
    if (shows.length === 0) return;
    const plays = shows.reduce((n, s) => n + s.plays, 0);
    $('not-in-catalogue-hint').textContent =
      `${fmt(shows.length)} of your shows and films (${fmt(plays)} plays) matched no catalogue title, or only doubtfully: another work of the same name, ` +
      'a title in another language, a film taken for a series. The model ignores them. This list is computed on this computer and never sent anywhere.';
    $('not-in-catalogue-summary').textContent = `Show the ${fmt(shows.length)} titles`;
    $('not-in-catalogue').replaceChildren(
      ...shows.map((s) => {
        const li = el('li');
        li.append(el('strong', null, s.title), el('span', 'meta', ` · ${s.kind}, ${fmt(s.plays)} ${s.plays === 1 ? 'play' : 'plays'}`));
        return li;
      }),
    );
  }

  // ------------------------------------------------------------ community

  function bandLabel(band) {
    if (band.max === null) return `${band.min}+`;
    return band.min === band.max ? String(band.min) : `${band.min}–${band.max}`;
  }

  /** `12%–40%`: the 95% interval of a share, kept within 0–100% by the server. */
  const interval = (e) => `${pct(e.low)}–${pct(e.high)}`;
  /** A figure whose noisy estimate fell outside its range is shown at the nearest end, marked with an asterisk. */
  const mark = (e) => (e.clipped ? '*' : '');

  function renderVerdict(insights, community) {
    const verdict = $('verdict');
    if (!community.stats) {
      verdict.textContent = community.message;
      return;
    }
    const c = insights.comparison;
    if (!c) {
      verdict.textContent = `The community statistics for ${community.stats.week} are below; your own viewing appears here once your history has been read.`;
      return;
    }
    verdict.replaceChildren(
      `In ${c.week} you played `,
      el('strong', null, fmt(c.plays)),
      ` titles (the ${bandLabel(c.band)} band). Between `,
      el('strong', null, pct(c.interval[0])),
      ' and ',
      el('strong', null, pct(c.interval[1])),
      ` of the ${fmt(community.stats.participants)} participants played fewer (95% interval; the estimate for the bands below yours is ${pct(c.fewer.value)}${mark(c.fewer)}, 95% interval ${interval(c.fewer)}).`,
      c.mean ? ` The community average was ${fmt(c.mean.value, 1)}${mark(c.mean)} plays (95% interval ${fmt(c.mean.low, 1)}–${fmt(c.mean.high, 1)}).` : '',
      c.fewer.clipped || c.mean?.clipped ? ' * The noisy estimate fell outside what is possible and is shown at the nearest possible value.' : '',
      c.interval[1] - c.interval[0] > 0.5 ? ' That interval is wide: with this many participants the privacy noise still dominates.' : '',
    );
  }

  /** Say which figures were clipped to their range, or nothing. */
  function renderClippedNote(stats) {
    const bands = stats.bands.filter((b) => b.share.clipped).map(bandLabel);
    const weeks = stats.trend.filter((t) => t.mean?.clipped).map((t) => t.week);
    const parts = [];
    if (bands.length > 0) parts.push(`the share of band${bands.length > 1 ? 's' : ''} ${bands.join(', ')}`);
    if (weeks.length > 0) parts.push(`the average of ${weeks.join(', ')}`);
    const note = $('community-clipped');
    note.hidden = parts.length === 0;
    note.textContent = parts.length === 0 ? '' : `* The privacy noise pushed ${parts.join(' and ')} outside what is possible (a share below 0% or above 100%, an average below 0 or above the clip); each is shown at the nearest possible value.`;
  }

  function renderCommunity(insights, community) {
    renderVerdict(insights, community);
    const stats = community.stats;
    if (!stats) return;
    $('community-charts').hidden = false;
    renderClippedNote(stats);
    const mine = insights.comparison ? stats.bands.findIndex((b) => b.min === insights.comparison.band.min) : -1;
    draw('community-distribution', {
      type: 'bar',
      data: {
        labels: stats.bands.map((b) => `${bandLabel(b)}${mark(b.share)}`),
        datasets: [{ label: 'Share of participants (%)', data: stats.bands.map((b) => Math.round(1000 * b.share.value) / 10), backgroundColor: stats.bands.map((_, i) => (i === mine ? ACCENT : MUTED)) }],
      },
      options: {
        plugins: {
          legend: { display: false },
          tooltip: { callbacks: { label: (item) => `${item.formattedValue}% (95% interval ${interval(stats.bands[item.dataIndex].share)})` } },
        },
        scales: { x: { title: { display: true, text: `plays in ${stats.week}` } }, y: { min: 0, max: 100, title: { display: true, text: '% of participants' } } },
      },
    });
    const trend = stats.trend;
    const round1 = (x) => Math.round(10 * x) / 10;
    draw('community-trend', {
      type: 'line',
      data: {
        labels: trend.map((t) => `${t.week}${t.mean ? mark(t.mean) : ''}`),
        datasets: [
          { label: '95% high', data: trend.map((t) => (t.mean ? round1(t.mean.high) : null)), borderColor: 'transparent', pointRadius: 0, fill: false },
          { label: '95% low', data: trend.map((t) => (t.mean ? round1(t.mean.low) : null)), borderColor: 'transparent', pointRadius: 0, backgroundColor: ACCENT_SOFT, fill: '-1' },
          { label: 'Average plays', data: trend.map((t) => (t.mean ? round1(t.mean.value) : null)), borderColor: ACCENT, backgroundColor: ACCENT, pointRadius: 3 },
        ],
      },
      options: {
        spanGaps: false,
        plugins: { legend: { display: false }, tooltip: { callbacks: { label: (item) => `${item.dataset.label}: ${item.formattedValue} (${trend[item.dataIndex].participants} reports)` } } },
        scales: { y: { min: 0, title: { display: true, text: 'plays per participant' } } },
      },
    });

    $('community-top-panel').hidden = false;
    const rows = stats.topShows.map((s, i) => {
      const tr = el('tr');
      tr.append(el('td', null, i + 1), el('td', null, s.year ? `${s.title} (${s.year})` : s.title), el('td', null, `${fmt(s.count.value, 1)}${mark(s.count)}`), el('td', null, `${fmt(s.count.low, 1)}–${fmt(s.count.high, 1)}`));
      return tr;
    });
    $('community-top').tBodies[0].replaceChildren(...rows);
    $('community-top').hidden = rows.length === 0;
    $('community-top-hint').textContent =
      rows.length > 0
        ? `Estimated number of participants whose most-played show of ${stats.week} it was, with its 95% interval (at most ${fmt(stats.participants)}). A show is listed only above ${fmt(stats.detectableCount, 1)}, where noise alone is unlikely to reach.` +
          (stats.topShows.some((s) => s.count.clipped) ? ' * The noisy estimate came out above the number of participants; shown as that number.' : '')
        : `No show stands out from the noise yet: with ${fmt(stats.participants)} participants a show must be the most-played of about ${fmt(Math.ceil(stats.detectableCount))} of them to be listed.`;
  }

  // ------------------------------------------------------------ start

  async function start() {
    let insights;
    try {
      insights = await getJson('/api/insights');
    } catch (err) {
      $('loading').hidden = true;
      showNotice('error', `Could not load your insights: ${err.message}`);
      return;
    }
    $('loading').hidden = true;
    if (insights.state === 'ready') {
      const personal = insights.personal;
      $('personal').hidden = false;
      renderTotals(personal.totals);
      renderWeekly(personal);
      $('weekly-range').addEventListener('change', () => renderWeekly(personal));
      renderTopShows(personal.topShows);
      renderGenres(personal.genres);
      renderBinges(personal.binges);
      renderNotInCatalogue(personal.notInCatalogue);
    } else {
      showNotice('waiting', insights.message);
    }
    try {
      renderCommunity(insights, await getJson('/api/community'));
    } catch (err) {
      $('verdict').textContent = `Could not load the community statistics: ${err.message}`;
    }
    document.body.dataset.ready = 'true';
  }

  if (typeof Chart === 'undefined') showNotice('error', 'The chart library did not load; reload the page.');
  else void start();
})();
