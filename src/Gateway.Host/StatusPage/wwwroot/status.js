// The gateway's status page: a live, virtualised table of sockets fed by /events (Server-Sent Events).
// No framework, no build step. Every value from the server goes into the DOM as text, never as HTML.
// The API key lives only in this closure: never in a URL, a cookie or storage.
'use strict';
(() => {
  const COLUMNS = 15;
  const OVERSCAN = 8;
  const DEFAULT_DETAIL_HEIGHT = 160;

  const sockets = new Map();        // name -> the socket's row as the server sent it (health's shape)
  const rates = new Map();          // name -> the latest rates sample ({ i, o, q, d, e, r, h, s, m })
  const expanded = new Set();       // names whose details are open
  const detailHeights = new Map();  // name -> measured height of its open details
  const rendered = new Map();       // name -> { tr, cells, detail } for rows in the DOM
  let names = [];                   // sorted
  let offsets = null;               // offsets[i]: top of row i; null when it must be recomputed
  let rowHeight = 29;               // measured from a real row once there is one
  let renderQueued = false;
  let clockSkew = 0;                // server time minus local time, ms
  let apiKey = null;                // in memory only
  let snapshotSeen = false;
  let ratesSeen = false;            // a socket left out of rates events is at rest: 0 frames/s
  let lastChildren = [];

  const $ = id => document.getElementById(id);
  const viewport = $('viewport');
  const tbody = $('rows');
  const thead = viewport.querySelector('thead');
  const keyInput = $('api-key');
  const topSpacer = wideRow('spacer');
  const bottomSpacer = wideRow('spacer');

  // A row with one cell across the table: the spacers above and below the visible rows, and open details.
  function wideRow(className) {
    const tr = document.createElement('tr');
    tr.className = className;
    const td = document.createElement('td');
    td.colSpan = COLUMNS;
    tr.append(td);
    return tr;
  }

  // --- formatting -------------------------------------------------------------------------------

  function now() { return Date.now() + clockSkew; }

  function age(iso) {
    if (!iso) return '';
    const seconds = Math.max(0, Math.round((now() - Date.parse(iso)) / 1000));
    if (seconds < 60) return `${seconds} s`;
    if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
    if (seconds < 86400) return `${Math.floor(seconds / 3600)} h`;
    return `${Math.floor(seconds / 86400)} d`;
  }

  function until(iso) {
    if (!iso) return '';
    const seconds = Math.round((Date.parse(iso) - now()) / 1000);
    return seconds > 0 ? `in ${seconds} s` : 'now';
  }

  function rate(value) {
    if (value === undefined) return '';
    return value < 10 ? value.toFixed(1) : Math.round(value).toString();
  }

  // Ready is up; Waiting, Stopped, and connecting again after failures are down.
  function stateClass(socket) {
    switch (socket.state) {
      case 'Ready': return 'state-ok';
      case 'Waiting': case 'Stopped': return 'state-down';
      case 'Connecting': return socket.reconnectAttempt > 0 ? 'state-down' : 'state-pending';
      case 'Disabled': return 'state-off';
      default: return 'state-pending';
    }
  }

  function closeText(socket) {
    const code = socket.lastCloseStatus
      ? `${socket.lastCloseStatus}${socket.lastCloseDescription ? ` '${socket.lastCloseDescription}'` : ''}`
      : '';
    const why = socket.state !== 'Ready' && socket.lastError ? socket.lastError : (socket.lastDisconnect || socket.lastError || '');
    return [code, why].filter(Boolean).join(' · ');
  }

  // --- layout -----------------------------------------------------------------------------------

  function heightOf(name) {
    return rowHeight + (expanded.has(name) ? (detailHeights.get(name) || DEFAULT_DETAIL_HEIGHT) : 0);
  }

  function layout() {
    offsets = new Float64Array(names.length + 1);
    for (let i = 0; i < names.length; i++) offsets[i + 1] = offsets[i] + heightOf(names[i]);
  }

  // The first row whose bottom is below y.
  function rowAt(y) {
    let lo = 0, hi = names.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (offsets[mid + 1] <= y) lo = mid + 1; else hi = mid;
    }
    return lo;
  }

  function queueRender() {
    if (!renderQueued) {
      renderQueued = true;
      requestAnimationFrame(render);
    }
  }

  function render() {
    renderQueued = false;
    if (!offsets) layout();
    const top = Math.max(0, viewport.scrollTop - thead.offsetHeight);
    const first = Math.max(0, rowAt(top) - OVERSCAN);
    const last = Math.min(names.length, rowAt(top + viewport.clientHeight) + 1 + OVERSCAN);

    const children = [topSpacer];
    const visible = new Set();
    for (let i = first; i < last; i++) {
      const name = names[i];
      visible.add(name);
      const row = rowFor(name);
      update(row, sockets.get(name), rates.get(name));
      children.push(row.tr);
      if (expanded.has(name)) {
        row.detail = row.detail || wideRow('detail');
        fillDetail(row.detail, sockets.get(name), rates.get(name));
        children.push(row.detail);
      }
    }
    children.push(bottomSpacer);
    topSpacer.firstChild.style.height = `${offsets[first]}px`;
    bottomSpacer.firstChild.style.height = `${offsets[names.length] - offsets[last]}px`;
    if (children.length !== lastChildren.length || children.some((c, i) => c !== lastChildren[i])) {
      tbody.replaceChildren(...children);
      lastChildren = children;
    }
    for (const name of rendered.keys()) {
      if (!visible.has(name)) rendered.delete(name);
    }

    // Real heights, once they are known: a change lays out again on the next frame.
    let relayout = false;
    const sample = first < last ? rendered.get(names[first]) : null;
    if (sample && sample.tr.offsetHeight > 0 && Math.abs(sample.tr.offsetHeight - rowHeight) > 0.5) {
      rowHeight = sample.tr.offsetHeight;
      relayout = true;
    }
    for (const name of visible) {
      const row = rendered.get(name);
      if (expanded.has(name) && row.detail && row.detail.offsetHeight > 0 && row.detail.offsetHeight !== detailHeights.get(name)) {
        detailHeights.set(name, row.detail.offsetHeight);
        relayout = true;
      }
    }
    if (relayout) {
      offsets = null;
      queueRender();
    }
    summarise();
  }

  function summarise() {
    let ready = 0, down = 0;
    for (const socket of sockets.values()) {
      const cls = stateClass(socket);
      if (cls === 'state-ok') ready++;
      else if (cls === 'state-down') down++;
    }
    $('summary').textContent = snapshotSeen ? `${sockets.size} socket${sockets.size === 1 ? '' : 's'}: ${ready} ready, ${down} down` : 'loading…';
    $('empty').hidden = !snapshotSeen || sockets.size !== 0;
  }

  // --- rows -------------------------------------------------------------------------------------

  function rowFor(name) {
    let row = rendered.get(name);
    if (row) return row;
    const tr = document.createElement('tr');
    tr.className = 'row';
    tr.dataset.socket = name;
    const cells = [];
    for (let i = 0; i < COLUMNS; i++) {
      const td = document.createElement('td');
      tr.append(td);
      cells.push(td);
    }
    const expand = document.createElement('button');
    expand.type = 'button';
    expand.className = 'expand';
    expand.dataset.action = 'expand';
    cells[0].append(expand);
    const state = document.createElement('span');
    state.className = 'state';
    cells[2].append(state);
    for (const i of [6, 7, 8, 9, 10, 12]) cells[i].classList.add('num');
    cells[1].className = 'name';
    cells[11].classList.add('reason');
    cells[13].className = 'owner';
    cells[14].className = 'actions';
    for (const [action, label, title] of [['reconnect', 'Reconnect', 'close and reconnect (needs the API key)'], ['send', 'Send', 'send the test message (needs the API key)']]) {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = action;
      button.dataset.action = action;
      button.textContent = label;
      button.title = title;
      cells[14].append(button);
    }
    row = { tr, cells, state, expand, detail: null };
    rendered.set(name, row);
    return row;
  }

  function text(node, value) {
    const s = value === undefined || value === null ? '' : String(value);
    if (node.textContent !== s) node.textContent = s;
  }

  function update(row, socket, sample) {
    const cls = `row ${stateClass(socket)}`;
    if (row.tr.className !== cls) row.tr.className = cls;
    text(row.expand, expanded.has(socket.name) ? '▾' : '▸');
    row.expand.setAttribute('aria-expanded', expanded.has(socket.name) ? 'true' : 'false');
    const c = row.cells;
    text(c[1], socket.name);
    c[1].title = socket.name;
    text(row.state, socket.state);
    row.state.title = socket.stateDetail || '';
    // A socket cycling through Waiting and Connecting has been down since its last connection ended.
    const since = stateClass(socket) === 'state-down' && socket.recentDisconnects ? socket.recentDisconnects[0].at : socket.since;
    text(c[3], age(since));
    c[3].title = since || '';
    text(c[4], socket.protocol);
    text(c[5], socket.url);
    c[5].title = socket.url || '';
    text(c[6], rate(sample ? sample.i : ratesSeen ? 0 : undefined));
    text(c[7], rate(sample ? sample.o : ratesSeen ? 0 : undefined));
    text(c[8], sample ? sample.q : socket.queueDepth);
    text(c[9], sample ? sample.d : socket.framesDropped);
    text(c[10], sample ? sample.e : socket.handlerErrors);
    const reason = closeText(socket);
    text(c[11], reason);
    c[11].title = reason;
    text(c[12], socket.reconnects);
    // In a cluster every socket names the replica that runs it; the column shows only then.
    text(c[13], socket.owner);
    if (socket.owner && !document.body.classList.contains('clustered')) document.body.classList.add('clustered');
  }

  function element(tag, value, className) {
    const e = document.createElement(tag);
    if (value !== undefined && value !== null) e.textContent = String(value);
    if (className) e.className = className;
    return e;
  }

  function table(headers, rows) {
    const t = document.createElement('table');
    const head = document.createElement('tr');
    for (const h of headers) head.append(element('th', h));
    t.append(head);
    for (const r of rows) {
      const tr = document.createElement('tr');
      for (const v of r) tr.append(element('td', v));
      t.append(tr);
    }
    return t;
  }

  function fillDetail(tr, socket, sample) {
    const td = tr.firstChild;
    const parts = [];
    const facts = [
      ['State detail', socket.stateDetail],
      ['Transport', socket.transport],
      ['Required', socket.required ? 'yes' : 'no'],
      ['Reconnect attempt', socket.reconnectAttempt],
      ['Last connected', socket.lastConnectedAt ? `${age(socket.lastConnectedAt)} ago` : null],
      ['Last error', socket.lastError ? `${socket.lastError}${socket.lastHttpStatus ? ` (HTTP ${socket.lastHttpStatus})` : ''}` : null],
      ['Last disconnect', socket.lastDisconnect ? `${socket.lastDisconnect} (${socket.lastDisconnectReason}, closed by ${socket.lastClosedBy})` : null],
      ['Frames', `${sample ? sample.r : socket.framesReceived} received, ${sample ? sample.h : socket.framesHandled} handled, ${sample ? sample.s : socket.framesSent} sent`],
      ['Outbound queue', socket.outboundDepth],
      ['Groups', socket.groups && socket.groups.length ? socket.groups.join(', ') : null],
      ['Failing handler', socket.failingHandler ? `${socket.failingHandler.handler} since ${age(socket.failingHandler.since)}` : null],
    ];
    const dl = document.createElement('dl');
    for (const [k, v] of facts) {
      if (v === null || v === undefined || v === '') continue;
      dl.append(element('dt', k), element('dd', v));
    }
    parts.push(dl);

    const subscriptions = socket.subscriptions || [];
    parts.push(element('h3', socket.protocol === 'Phoenix' ? 'Topics' : 'Subscriptions'));
    if (subscriptions.length === 0) {
      parts.push(element('div', 'none', 'muted'));
    } else {
      const live = sample && sample.m ? sample.m : [];
      parts.push(table(['Id', 'Destination', 'State', 'Messages', 'Last message', 'Resubscribes', 'Last error', 'Next attempt'],
        subscriptions.map((s, i) => {
          const [count, lastMs] = live[i] || [s.messagesReceived, s.lastMessageAt ? Date.parse(s.lastMessageAt) : 0];
          return [s.id, s.destination, s.state, count, lastMs ? `${age(new Date(lastMs).toISOString())} ago` : 'never',
            s.resubscribes, s.lastError || '', s.state === 'Rejoining' ? until(s.nextAttemptAt) : ''];
        })));
    }

    const recent = socket.recentDisconnects || [];
    parts.push(element('h3', `Last ${recent.length} disconnect${recent.length === 1 ? '' : 's'}`));
    if (recent.length === 0) {
      parts.push(element('div', 'none', 'muted'));
    } else {
      parts.push(table(['When', 'Reason', 'What happened', 'Code', 'Closed by'],
        recent.map(d => [`${age(d.at)} ago`, d.reason, d.description, d.closeStatus || '', d.closedBy])));
    }
    td.replaceChildren(...parts);
  }

  // --- data -------------------------------------------------------------------------------------

  function sortNames() {
    names = [...sockets.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    offsets = null;
  }

  function onSnapshot(data) {
    sockets.clear();
    rates.clear();
    ratesSeen = false;
    snapshotSeen = true;
    for (const socket of data.sockets) sockets.set(socket.name, socket);
    for (const name of [...expanded]) if (!sockets.has(name)) expanded.delete(name);
    sortNames();
    queueRender();
  }

  function onChanges(data) {
    let added = false;
    for (const socket of data.sockets) {
      added = added || !sockets.has(socket.name);
      sockets.set(socket.name, socket);
    }
    for (const name of data.removed) {
      sockets.delete(name);
      rates.delete(name);
      expanded.delete(name);
      added = true;
    }
    if (added) sortNames();
    queueRender();
  }

  function onRates(data) {
    ratesSeen = true;
    for (const sample of data.sockets) rates.set(sample.n, sample);
    queueRender();
  }

  function setFeed(state, label) {
    const feed = $('feed');
    feed.className = `feed feed-${state}`;
    feed.textContent = label;
  }

  function listen() {
    const source = new EventSource('events');
    const handle = fn => e => {
      const data = JSON.parse(e.data);
      if (data.at) clockSkew = Date.parse(data.at) - Date.now();
      fn(data);
    };
    source.addEventListener('open', () => setFeed('live', 'live'));
    source.addEventListener('snapshot', handle(onSnapshot));
    source.addEventListener('changes', handle(onChanges));
    source.addEventListener('rates', handle(onRates));
    source.addEventListener('error', () => {
      if (source.readyState === EventSource.CLOSED) {
        // EventSource gives up on an HTTP error; try again ourselves.
        setFeed('lost', 'disconnected, retrying…');
        setTimeout(listen, 2000);
      } else {
        setFeed('connecting', 'reconnecting…');
      }
    });
  }

  // --- actions ----------------------------------------------------------------------------------

  function say(message, kind) {
    const m = $('message');
    m.className = `message ${kind || ''}`;
    m.textContent = message;
  }

  function setKey(key) {
    apiKey = key;
    keyInput.value = '';
    $('forget-key').hidden = key === null;
    const state = $('key-state');
    state.textContent = key === null ? 'no key: read-only' : 'key set (kept in this page only)';
    state.classList.toggle('has-key', key !== null);
  }

  async function act(name, action) {
    if (apiKey === null) {
      say(`Enter the API key (Gateway:Api:Key) to ${action === 'send' ? 'send to' : 'reconnect'} ${name}.`, 'error');
      keyInput.focus();
      return;
    }
    const path = `/sockets/${encodeURIComponent(name)}/${action === 'send' ? 'messages' : 'reconnect'}`;
    const init = { method: 'POST', headers: { 'X-Api-Key': apiKey }, cache: 'no-store', credentials: 'omit' };
    if (action === 'send') {
      init.headers['Content-Type'] = 'text/plain; charset=utf-8';
      init.body = $('test-message').value;
    }
    say(`${name}: ${action}…`);
    try {
      const response = await fetch(path, init);
      const body = await response.json().catch(() => ({}));
      if (response.ok) {
        say(`${name}: ${body.status || response.status}`, 'ok');
      } else if (response.status === 401) {
        setKey(null);
        say('The API key was refused (401): enter it again.', 'error');
      } else {
        say(`${name}: ${body.error || body.status || `HTTP ${response.status}`}`, 'error');
      }
    } catch (error) {
      say(`${name}: ${error.message}`, 'error');
    }
  }

  function toggle(name) {
    if (expanded.has(name)) expanded.delete(name); else expanded.add(name);
    offsets = null;
    queueRender();
  }

  tbody.addEventListener('click', e => {
    const button = e.target.closest('button[data-action]');
    const tr = e.target.closest('tr.row');
    if (!button || !tr) return;
    const name = tr.dataset.socket;
    if (button.dataset.action === 'expand') toggle(name);
    else act(name, button.dataset.action);
  });
  $('use-key').addEventListener('click', () => {
    const key = keyInput.value;
    if (key) {
      setKey(key);
      say('API key set for this page; it is forgotten when the page closes.', 'ok');
    } else {
      say('Type the API key first.', 'error');
    }
  });
  keyInput.addEventListener('keydown', e => { if (e.key === 'Enter') $('use-key').click(); });
  $('forget-key').addEventListener('click', () => { setKey(null); say('API key forgotten.'); });
  viewport.addEventListener('scroll', queueRender, { passive: true });
  window.addEventListener('resize', () => { offsets = null; queueRender(); });

  summarise();
  listen();
})();
