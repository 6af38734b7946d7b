/**
 * The dashboard's script: renders the route from the JSON API. Plain DOM (text is set as text,
 * never as HTML); the execution page follows its execution live through Server-Sent Events.
 */
export const SCRIPT_JS = String.raw`
'use strict';
(function () {
  var main = document.getElementById('main');
  var live = document.getElementById('live');
  var skewMs = 0;
  var timers = [];

  function h(tag, attrs) {
    var el = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        var v = attrs[k];
        if (v === undefined || v === null || v === false) return;
        if (k === 'text') el.textContent = String(v);
        else if (k.indexOf('on') === 0) el.addEventListener(k.slice(2), v);
        else el.setAttribute(k, v === true ? '' : String(v));
      });
    }
    for (var i = 2; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === undefined || child === null || child === false) continue;
      if (Array.isArray(child)) child.forEach(function (c) { if (c) el.appendChild(c); });
      else el.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
    }
    return el;
  }

  function api(path, options) {
    return fetch(path, Object.assign({ credentials: 'same-origin', headers: { accept: 'application/json' } }, options || {})).then(function (res) {
      return res.json().then(function (body) {
        if (!res.ok) throw new Error((body && body.error && body.error.message) || ('HTTP ' + res.status));
        return body;
      });
    });
  }

  function formatDuration(ms) {
    if (ms === null || ms === undefined) return '';
    if (ms < 1000) return ms + ' ms';
    var s = ms / 1000;
    if (s < 60) return s.toFixed(1) + ' s';
    var m = Math.floor(s / 60);
    var rest = Math.round(s - m * 60);
    if (m < 60) return m + ' min ' + rest + ' s';
    return Math.floor(m / 60) + ' h ' + (m % 60) + ' min';
  }

  function formatTime(ms) {
    return ms ? new Date(ms).toLocaleString() : '';
  }

  function liveDuration(item) {
    if (item.startedAt === null || item.startedAt === undefined) return null;
    var end = item.finishedAt === null || item.finishedAt === undefined ? Date.now() + skewMs : item.finishedAt;
    return Math.max(0, end - item.startedAt);
  }

  function statusBadge(status, extraClass) {
    return h('span', { class: 'status s-' + status + (extraClass ? ' ' + extraClass : ''), 'data-status': status, text: status.replace(/_/g, ' ') });
  }

  function durationEl(item) {
    var el = h('span', { class: 'duration muted', text: formatDuration(liveDuration(item)) });
    if (item.startedAt !== null && item.startedAt !== undefined && (item.finishedAt === null || item.finishedAt === undefined)) {
      el.setAttribute('data-live-start', String(item.startedAt));
    }
    return el;
  }

  function shortId(id) { return id.slice(0, 8); }

  function stagesRow(execution, planned, onAction) {
    var stages = execution ? execution.stages : planned.map(function (s) {
      return { name: s.name, status: 'PENDING', actions: s.actions.map(function (a) { return { name: a, status: 'PENDING', startedAt: null, finishedAt: null }; }) };
    });
    var row = h('div', { class: 'stages', role: 'list', 'aria-label': 'stages' });
    stages.forEach(function (stage, index) {
      if (index > 0) row.appendChild(h('span', { class: 'arrow', 'aria-hidden': 'true', text: '\u2192' }));
      var actions = h('ul', { class: 'actions' });
      stage.actions.forEach(function (action) {
        var name = onAction && action.hasLog
          ? h('button', { class: 'link', type: 'button', text: action.name, onclick: function () { onAction(stage.name, action.name); } })
          : h('span', { text: action.name });
        actions.appendChild(h('li', { class: 'action s-' + action.status, 'data-stage': stage.name, 'data-action': action.name, 'data-status': action.status },
          h('div', { class: 'row' }, name, statusBadge(action.status)),
          h('div', { class: 'row' }, durationEl(action), action.exitCode !== null && action.exitCode !== undefined && action.exitCode !== 0 ? h('span', { class: 'muted', text: 'exit ' + action.exitCode }) : null),
          action.statusReason && action.status !== 'SUCCEEDED' ? h('div', { class: 'reason', text: action.statusReason }) : null));
      });
      row.appendChild(h('section', { class: 'stage s-' + stage.status, role: 'listitem', 'data-stage': stage.name, 'data-status': stage.status, 'aria-label': 'stage ' + stage.name + ': ' + stage.status },
        h('h3', null, h('span', { text: stage.name }), statusBadge(stage.status)),
        actions));
    });
    return row;
  }

  function setTitle(text) { document.title = text + ' \u00b7 service-pipelines'; }

  function clearTimers() { timers.forEach(function (t) { clearInterval(t); }); timers = []; }

  function tickDurations() {
    Array.prototype.forEach.call(document.querySelectorAll('[data-live-start]'), function (el) {
      el.textContent = formatDuration(Math.max(0, Date.now() + skewMs - Number(el.getAttribute('data-live-start'))));
    });
  }

  // Pipelines: every pipeline with its latest execution, stages left to right.
  function renderPipelines() {
    setTitle('Pipelines');
    function draw(body) {
      var list = h('div', { id: 'pipelines' });
      if (body.pipelines.length === 0) list.appendChild(h('p', { class: 'muted', text: 'No pipelines.' }));
      body.pipelines.forEach(function (p) {
        var latest = p.latest;
        list.appendChild(h('article', { class: 'panel pipeline', 'data-pipeline': p.name, 'aria-labelledby': 'p-' + p.name },
          h('div', { class: 'pipeline-head' },
            h('h2', { id: 'p-' + p.name }, h('a', { href: '/pipelines/' + encodeURIComponent(p.name), text: p.name })),
            h('span', { class: 'muted', text: p.trigger === 'pull-request' ? 'pull requests' : 'push' }),
            latest ? statusBadge(latest.status) : h('span', { class: 'muted', text: 'never run' }),
            latest ? h('a', { href: '/executions/' + encodeURIComponent(latest.id), text: 'execution ' + shortId(latest.id) }) : null,
            latest ? h('span', { class: 'muted', text: formatTime(latest.startedAt) + (latest.sourceRevision ? ' \u00b7 ' + latest.sourceRevision.slice(0, 12) : '') }) : null,
            p.configured ? null : h('span', { class: 'muted', text: '(no longer in the config)' })),
          stagesRow(latest, p.plannedStages, null)));
      });
      main.replaceChildren(h('h1', { text: 'Pipelines' }), list);
    }
    api('/api/pipelines').then(function (body) {
      draw(body);
      document.body.setAttribute('data-ready', 'true');
      // Then live: the server sends the pipelines again whenever a latest execution changes.
      var source = new EventSource('/api/pipelines/events');
      source.addEventListener('pipelines', function (event) {
        var data = JSON.parse(event.data);
        skewMs = data.serverTime - Date.now();
        draw(data);
      });
    }).catch(showError);
  }

  // History of one pipeline.
  function renderHistory(name) {
    setTitle(name + ' history');
    function draw(body) {
      var rows = body.executions.map(function (e) {
        return h('tr', { 'data-execution': e.id, 'data-status': e.status },
          h('td', null, h('a', { href: '/executions/' + encodeURIComponent(e.id), text: shortId(e.id) })),
          h('td', null, statusBadge(e.status)),
          h('td', { text: e.sourceRevision ? e.sourceRevision.slice(0, 12) + (e.sourceDirty ? ' (with changes)' : '') : '' }),
          h('td', { text: formatTime(e.startedAt) }),
          h('td', null, durationEl(e)),
          h('td', null, h('span', { class: 'dots', 'aria-label': e.stages.map(function (s) { return s.name + ' ' + s.status; }).join(', ') },
            e.stages.map(function (s) { return h('span', { class: 'dot s-' + s.status, title: s.name + ': ' + s.status }); }))));
      });
      main.replaceChildren(
        h('p', null, h('a', { href: '/', text: '\u2190 Pipelines' })),
        h('h1', { text: name + ': history' }),
        rows.length === 0 ? h('p', { class: 'muted', text: 'No executions yet.' }) :
          h('table', { id: 'history' },
            h('thead', null, h('tr', null, ['Execution', 'Status', 'Source', 'Started', 'Duration', 'Stages'].map(function (t) { return h('th', { scope: 'col', text: t }); }))),
            h('tbody', null, rows)));
    }
    function load() {
      return api('/api/executions?limit=100&pipeline=' + encodeURIComponent(name)).then(draw).catch(showError);
    }
    load().then(function () { document.body.setAttribute('data-ready', 'true'); });
    timers.push(setInterval(load, 2000));
  }

  // One execution, live.
  function renderExecution(id) {
    var logs = {};
    var current = null;
    var header = h('div');
    var stagesBox = h('div', { class: 'panel' });
    var approvalBox = h('div');
    var logsBox = h('section', { 'aria-label': 'logs' }, h('h2', { text: 'Logs' }));
    main.replaceChildren(h('p', null, h('a', { href: '/', text: '\u2190 Pipelines' })), header, approvalBox, stagesBox, logsBox);

    function logPanel(stage, action) {
      var key = stage + '.' + action;
      if (!logs[key]) {
        var pre = h('pre', { class: 'log', tabindex: '0', 'aria-label': 'log of ' + key });
        var status = h('span', { class: 'muted' });
        var details = h('details', { class: 'log', 'data-log': key, id: 'log-' + key }, h('summary', null, h('strong', { text: key }), status), pre);
        logs[key] = { details: details, pre: pre, status: status, auto: false };
        logsBox.appendChild(details);
      }
      return logs[key];
    }

    function openLog(stage, action) {
      var panel = logPanel(stage, action);
      panel.details.open = true;
      panel.auto = false;
      panel.details.scrollIntoView({ block: 'nearest' });
    }

    function drawApproval(execution) {
      var pending = (execution.approvals || []).filter(function (a) { return a.status === 'PENDING'; });
      if (pending.length === 0) { approvalBox.replaceChildren(); return; }
      var a = pending[0];
      if (approvalBox.getAttribute('data-for') === a.stage + '.' + a.action && approvalBox.firstChild) return;
      approvalBox.setAttribute('data-for', a.stage + '.' + a.action);
      var comment = h('textarea', { id: 'approval-comment', 'aria-label': 'comment' });
      var message = h('p', { role: 'status' });
      function decide(decision) {
        buttons.forEach(function (b) { b.disabled = true; });
        api('/api/executions/' + encodeURIComponent(execution.id) + '/approval', {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json' },
          body: JSON.stringify({ decision: decision, summary: comment.value, stage: a.stage, action: a.action })
        }).then(function (body) {
          message.textContent = body.approval.status.toLowerCase() + ' by ' + body.approval.decidedBy;
        }).catch(function (error) {
          message.textContent = error.message;
          message.className = 'error';
          buttons.forEach(function (b) { b.disabled = false; });
        });
      }
      var buttons = [
        h('button', { type: 'button', class: 'primary', id: 'approve', text: 'Approve', onclick: function () { decide('approve'); } }),
        h('button', { type: 'button', class: 'danger', id: 'reject', text: 'Reject', onclick: function () { decide('reject'); } })
      ];
      approvalBox.replaceChildren(h('section', { class: 'panel approval', 'aria-labelledby': 'approval-title' },
        h('h2', { id: 'approval-title', text: 'Approval waiting: ' + a.stage + ' \u00b7 ' + a.action }),
        h('p', { text: a.comment }),
        h('label', { for: 'approval-comment', text: 'Comment (optional)' }), comment,
        h('div', { class: 'buttons' }, buttons), message));
    }

    function draw(execution) {
      var previous = current;
      current = execution;
      setTitle(execution.pipeline + ' ' + shortId(execution.id));
      header.replaceChildren(
        h('h1', null, h('a', { href: '/pipelines/' + encodeURIComponent(execution.pipeline), text: execution.pipeline }), ' \u00b7 execution ' + shortId(execution.id) + ' ', statusBadge(execution.status)),
        h('ul', { class: 'facts' },
          h('li', null, h('span', { class: 'muted', text: 'Id ' }), h('code', { id: 'execution-id', text: execution.id })),
          h('li', { text: 'Trigger: ' + execution.trigger }),
          h('li', { text: 'Source: ' + (execution.sourceRevision ? execution.sourceRevision.slice(0, 12) + (execution.sourceDirty ? ' (with changes)' : '') : '\u2014') }),
          h('li', { text: 'Started: ' + formatTime(execution.startedAt) }),
          h('li', null, 'Duration: ', durationEl(execution))),
        h('div', null,
          execution.statusReason ? h('p', { class: execution.status === 'FAILED' ? 'error' : 'muted', text: execution.statusReason }) : null,
          (execution.approvals || []).filter(function (a) { return a.status !== 'PENDING'; }).map(function (a) {
            return h('p', { class: 'muted decided-approval', text: a.stage + ' \u00b7 ' + a.action + ': ' + a.status.toLowerCase() + (a.decidedBy ? ' by ' + a.decidedBy : '') + (a.summary ? ': \u201c' + a.summary + '\u201d' : '') });
          })));
      stagesBox.replaceChildren(stagesRow(execution, [], openLog));
      drawApproval(execution);
      execution.stages.forEach(function (s) {
        s.actions.forEach(function (a) {
          if (!a.hasLog) return;
          var panel = logPanel(s.name, a.name);
          panel.status.textContent = a.status.replace(/_/g, ' ').toLowerCase();
          // Running and failed logs open by themselves; a log opened that way closes once its action succeeds.
          if ((a.status === 'IN_PROGRESS' || a.status === 'FAILED') && !panel.details.open) { panel.details.open = true; panel.auto = true; }
          else if (a.status === 'SUCCEEDED' && panel.auto) { panel.details.open = false; panel.auto = false; }
        });
      });
      if (!previous || previous.status !== execution.status) live.textContent = 'Execution ' + shortId(execution.id) + ' is ' + execution.status.replace(/_/g, ' ').toLowerCase();
      document.body.setAttribute('data-execution-status', execution.status);
    }

    api('/api/executions/' + encodeURIComponent(id)).then(function (body) {
      draw(body.execution);
      document.body.setAttribute('data-ready', 'true');
      var source = new EventSource('/api/executions/' + encodeURIComponent(body.execution.id) + '/events');
      source.addEventListener('execution', function (event) {
        var data = JSON.parse(event.data);
        skewMs = data.serverTime - Date.now();
        draw(data.execution);
      });
      source.addEventListener('log', function (event) {
        var data = JSON.parse(event.data);
        var panel = logPanel(data.stage, data.action);
        var pre = panel.pre;
        var atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
        if (data.text) pre.appendChild(document.createTextNode(data.text));
        if (atBottom) pre.scrollTop = pre.scrollHeight;
      });
      source.addEventListener('end', function () {
        source.close();
        document.body.setAttribute('data-live', 'ended');
      });
      source.addEventListener('error', function () {
        if (source.readyState === EventSource.CLOSED) document.body.setAttribute('data-live', 'closed');
      });
    }).catch(showError);
  }

  function showError(error) {
    main.replaceChildren(h('p', { class: 'error', role: 'alert', text: error.message }), h('p', null, h('a', { href: '/', text: 'Pipelines' })));
    document.body.setAttribute('data-ready', 'true');
  }

  function route() {
    clearTimers();
    timers.push(setInterval(tickDurations, 1000));
    var path = location.pathname;
    var m;
    if ((m = /^\/pipelines\/([^/]+)$/.exec(path))) renderHistory(decodeURIComponent(m[1]));
    else if ((m = /^\/executions\/([^/]+)$/.exec(path))) renderExecution(decodeURIComponent(m[1]));
    else renderPipelines();
  }

  route();
})();
`;
