/* The clinicians' course page. Everything shown is built with textContent (never innerHTML),
 * so nothing recorded can inject markup. The access token lives in `token` only. */
(function () {
  'use strict';

  var courseId = decodeURIComponent(location.pathname.split('/').filter(Boolean).pop() || '');
  var token = null;
  var charts = [];
  // The clinic's time zone, from the course view: every time on the page is the clinic's, whatever the browser's zone.
  var zone = 'UTC';

  var STOP_TEXT = {
    completed: 'Course completed',
    withdrawn: 'Stopped: the patient withdrew',
    deceased: 'Stopped: the patient died',
    discharged: 'Stopped: discharged to care that does not continue the course',
  };
  var PHASE_TEXT = {
    preparation: 'Preparation',
    'integration-1': 'Integration after session 1',
    'integration-2': 'Integration after session 2',
    'goals-of-care-done': 'Goals of care discussed',
    stopped: 'Stopped',
  };
  var OUTCOME_TEXT = { eligible: 'Eligible', 'needs-review': 'Needs clinician review', contraindicated: 'Contraindicated' };
  var TIMEPOINT_TEXT = {
    baseline: 'Baseline (screening)',
    'after-session-1': 'After session 1',
    'after-session-2': 'After session 2',
    'end-of-course': 'End of course',
    'follow-up': 'Follow-up',
  };
  var BAND_COLOURS = {
    minimal: 'rgba(46, 125, 50, 0.13)',
    mild: 'rgba(249, 168, 37, 0.16)',
    moderate: 'rgba(239, 108, 0, 0.17)',
    'moderately-severe': 'rgba(216, 67, 21, 0.19)',
    severe: 'rgba(183, 28, 28, 0.2)',
  };
  var INSTRUMENT = { phq9: { name: 'PHQ-9', max: 27 }, gad7: { name: 'GAD-7', max: 21 } };

  function $(id) { return document.getElementById(id); }
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === 'text') node.textContent = attrs[k];
      else if (k === 'className') node.className = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return node;
  }
  function when(iso) {
    if (!iso) return '';
    var d = new Date(iso);
    if (isNaN(d.getTime())) return iso;
    return d.toLocaleString('en-GB', { day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', timeZone: zone });
  }
  /** A time that must not be misread (alerts): with the zone named. */
  function whenNamed(iso) { return iso ? when(iso) + ' (' + zone + ')' : ''; }
  function day(iso) {
    // A date is a calendar day already: shown as it is; an instant is shown as the clinic's day.
    if (iso.length === 10) return new Date(iso + 'T12:00:00Z').toLocaleDateString('en-GB', { day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' });
    return new Date(iso).toLocaleDateString('en-GB', { day: 'numeric', month: 'short', year: 'numeric', timeZone: zone });
  }
  function clock(iso) {
    return new Date(iso).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit', timeZone: zone });
  }
  function bandLabel(bands, band) {
    var b = (bands || []).find(function (x) { return x.band === band; });
    return b ? b.label : band;
  }
  function cap(t) { return t.charAt(0).toUpperCase() + t.slice(1); }
  function signed(n) { return n > 0 ? '+' + n : String(n).replace('-', '−'); }

  function setStatus(text) { $('status').textContent = text; $('status').hidden = !text; }

  function api(path) {
    var headers = { Accept: 'application/json' };
    if (token) headers.Authorization = 'Bearer ' + token;
    return fetch(path, { headers: headers, credentials: 'omit', cache: 'no-store' }).then(function (res) {
      if (res.status === 401 || res.status === 403) {
        var err = new Error(res.status === 401 ? 'unauthorized' : 'forbidden');
        err.status = res.status;
        throw err;
      }
      return res.json().then(function (body) {
        if (!res.ok) {
          var e = new Error((body && body.issue && body.issue[0] && body.issue[0].diagnostics) || 'HTTP ' + res.status);
          e.status = res.status;
          throw e;
        }
        return body;
      });
    });
  }

  function post(path, body) {
    var headers = { Accept: 'application/json', 'Content-Type': 'application/json' };
    if (token) headers.Authorization = 'Bearer ' + token;
    // One key per submission: a retried or double-clicked submit is one acknowledgement.
    headers['Idempotency-Key'] = 'page-' + (window.crypto && crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random());
    return fetch(path, { method: 'POST', headers: headers, body: JSON.stringify(body), credentials: 'omit', cache: 'no-store' }).then(function (res) {
      return res.json().then(function (out) {
        if (!res.ok) {
          var e = new Error(res.status === 403 ? 'This token may not acknowledge alerts.' : (out && out.issue && out.issue[0] && out.issue[0].diagnostics) || 'HTTP ' + res.status);
          e.status = res.status;
          throw e;
        }
        return out;
      });
    });
  }

  function load() {
    setStatus('Loading the course…');
    var base = '/v1/courses/' + encodeURIComponent(courseId);
    Promise.all([api(base), api(base + '/outcomes')])
      .then(function (r) {
        $('token-form').hidden = true;
        setStatus('');
        render(r[0], r[1]);
      })
      .catch(function (err) {
        if (err.status === 401 || err.status === 403) {
          setStatus('');
          $('token-form').hidden = false;
          $('token-error').textContent = token
            ? (err.status === 401 ? 'That token was not accepted.' : 'That token may not read courses.')
            : '';
          $('token').focus();
          return;
        }
        setStatus(err.status === 404 ? 'There is no course ' + courseId + '.' : 'The course could not be loaded: ' + err.message);
      });
  }

  // ---- safety alerts first -------------------------------------------------------------
  function renderAlerts(course) {
    var body = $('alerts-body');
    body.textContent = '';
    var alerts = course.alerts || [];
    var section = $('alerts');
    section.classList.toggle('has-alerts', alerts.length > 0);
    if (alerts.length === 0) {
      body.appendChild(el('p', { className: 'calm', text: 'No active safety alerts.' }));
      return;
    }
    var list = el('ul', { className: 'alert-list' });
    alerts.forEach(function (a) {
      var title = a.code === 'phq9-self-harm'
        ? 'Self-harm risk: PHQ-9 item 9 positive'
        : a.code === 'blood-pressure-alert' ? 'Blood pressure above the alert threshold during a session' : 'Alert';
      var loop = a.alert;
      var children = [
        el('strong', { text: title }),
        el('span', { className: 'alert-when', text: whenNamed(a.at) }),
        el('p', { text: a.text }),
      ];
      if (loop) children.push(alertState(loop));
      if (loop && loop.status === 'open') children.push(ackForm(loop));
      list.appendChild(el('li', { className: 'alert-item ' + (a.code === 'phq9-self-harm' ? 'alert-safety' : 'alert-clinical'), 'data-alert-status': loop ? loop.status : 'unknown' }, children));
    });
    body.appendChild(list);
    if (alerts.some(function (a) { return a.code === 'phq9-self-harm'; })) section.setAttribute('role', 'alert');
  }

  function alertState(loop) {
    var parts = [];
    if (loop.status === 'open') {
      parts.push(badge('Open: not acknowledged', 'escalated'));
      parts.push(' ' + (loop.escalations === 0 ? 'Not escalated yet' : 'Escalated ' + loop.escalations + (loop.escalations === 1 ? ' time' : ' times')) +
        (loop.nextEscalationAt ? '; escalates next at ' + whenNamed(loop.nextEscalationAt) + ' unless acknowledged.' : '.'));
    } else {
      parts.push(badge(loop.status === 'resolved' ? 'Resolved' : 'Acknowledged', 'completed'));
      var resolved = loop.status === 'resolved';
      parts.push(' by ' + (resolved ? loop.resolvedBy : loop.acknowledgedBy) + ' at ' + whenNamed(resolved ? loop.resolvedAt : loop.acknowledgedAt) +
        (loop.escalations ? ' (after ' + loop.escalations + ' escalation' + (loop.escalations === 1 ? '' : 's') + ')' : '') + '.');
    }
    return el('p', { className: 'alert-state' }, parts);
  }

  function ackForm(loop) {
    var id = 'ack-' + loop.id;
    var by = el('input', { id: id + '-by', name: 'by', type: 'text', autocomplete: 'name', required: 'required', maxlength: '200' });
    var note = el('input', { id: id + '-note', name: 'note', type: 'text', maxlength: '2000' });
    var error = el('p', { className: 'error', role: 'alert' });
    var button = el('button', { type: 'submit', text: 'Acknowledge' });
    var form = el('form', { className: 'ack', 'aria-label': 'Acknowledge this alert' }, [
      el('label', { for: id + '-by', text: 'Acknowledged by' }), by,
      el('label', { for: id + '-note', text: 'Note (optional)' }), note,
      button, error,
    ]);
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var body = { by: by.value.trim() };
      if (note.value.trim()) body.note = note.value.trim();
      button.disabled = true;
      error.textContent = '';
      post('/v1/alerts/' + encodeURIComponent(loop.id) + '/acknowledge', body)
        .then(function () { load(); })
        .catch(function (err) {
          button.disabled = false;
          error.textContent = 'Not acknowledged: ' + err.message;
        });
    });
    return form;
  }

  // ---- summary --------------------------------------------------------------------------
  function renderSummary(course, outcomes) {
    var dl = $('summary');
    dl.textContent = '';
    function row(term, value, cls) {
      dl.appendChild(el('div', { className: 'pair' }, [el('dt', { text: term }), el('dd', { text: value, className: cls || '' })]));
    }
    var next = (course.followUps || [])
      .filter(function (f) { return f.status === 'scheduled'; })
      .sort(function (a, b) { return Date.parse(a.dueBy) - Date.parse(b.dueBy); })[0];
    row('Status', course.status === 'stopped' ? STOP_TEXT[course.stoppedReason] || 'Stopped' : 'Active · ' + (PHASE_TEXT[course.phase] || course.phase));
    row('Started', day(course.startDate));
    row('Times shown in', zone + " (the clinic's time zone)");
    if (course.stoppedAt) row('Stopped', when(course.stoppedAt));
    if (course.screening) row('Screening', OUTCOME_TEXT[course.screening.outcome] || course.screening.outcome);
    ['phq9', 'gad7'].forEach(function (k) {
      var pts = outcomes[k] || [];
      if (pts.length === 0) return row(INSTRUMENT[k].name, 'Not measured');
      var last = pts[pts.length - 1];
      var text = last.total + ' (' + bandLabel(course.severityBands[k], last.severity) + ')';
      if (outcomes.change[k] !== null) text += ', ' + signed(outcomes.change[k]) + ' since baseline';
      row(INSTRUMENT[k].name + ' now', text, changeClass(k, outcomes.change[k]));
    });
    row('Next follow-up', next ? 'Due ' + when(next.dueBy) : 'None scheduled');
    var ehr = ehrText(course.sync || []);
    if (ehr) row("In the hospital's EHR", ehr.text, ehr.cls);
  }
  // Where the course's records stand with the hospital's EHR, most urgent first.
  function ehrText(sync) {
    if (sync.length === 0) return null;
    var n = {};
    sync.forEach(function (s) { n[s.status] = (n[s.status] || 0) + 1; });
    var parts = [];
    if (n['waiting-for-patient']) parts.push('waiting: the patient is not registered in the EHR yet (' + n['waiting-for-patient'] + ' records); they go once the hospital registers them');
    if (n.failed) parts.push(n.failed + ' refused by the EHR');
    if (n.synced) parts.push(n.synced + ' in the EHR');
    if (n.pending) parts.push(n.pending + ' on the way');
    if (n['not-sent']) parts.push(n['not-sent'] + ' kept here (the EHR does not take them)');
    return { text: parts.join(' · '), cls: n['waiting-for-patient'] || n.failed ? 'worse' : '' };
  }
  function changeClass(k, change) {
    if (change === null) return '';
    if (k === 'phq9' && change <= -5) return 'better';
    if (change > 0) return 'worse';
    return '';
  }

  // ---- symptom charts -------------------------------------------------------------------
  var bandsPlugin = {
    id: 'severityBands',
    beforeDatasetsDraw: function (chart, _args, opts) {
      var area = chart.chartArea, y = chart.scales.y, ctx = chart.ctx;
      if (!opts || !opts.bands) return;
      ctx.save();
      opts.bands.forEach(function (b) {
        var top = y.getPixelForValue(Math.min(b.max + 0.5, opts.max));
        var bottom = y.getPixelForValue(Math.max(b.min - 0.5, 0));
        ctx.fillStyle = BAND_COLOURS[b.band] || 'transparent';
        ctx.fillRect(area.left, top, area.right - area.left, bottom - top);
        ctx.fillStyle = '#37474f';
        ctx.font = '12px system-ui, sans-serif';
        ctx.textAlign = 'right';
        ctx.textBaseline = 'middle';
        ctx.fillText(b.label + ' ' + b.min + '–' + b.max, area.right - 6, (top + bottom) / 2);
      });
      ctx.restore();
    },
  };
  var valueLabels = {
    id: 'valueLabels',
    afterDatasetsDraw: function (chart) {
      var ctx = chart.ctx;
      ctx.save();
      ctx.font = 'bold 13px system-ui, sans-serif';
      ctx.fillStyle = '#0b1f33';
      ctx.textAlign = 'center';
      chart.data.datasets.forEach(function (ds, i) {
        if (!ds.showValues) return;
        chart.getDatasetMeta(i).data.forEach(function (pt, j) { ctx.fillText(String(ds.data[j]), pt.x, pt.y - 12); });
      });
      ctx.restore();
    },
  };

  function renderScores(k, course, outcomes) {
    var points = outcomes[k] || [];
    var bands = course.severityBands[k];
    var tbody = $(k + '-table').querySelector('tbody');
    tbody.textContent = '';
    points.forEach(function (p) {
      tbody.appendChild(el('tr', {}, [
        el('td', { text: when(p.at) }),
        el('td', { text: TIMEPOINT_TEXT[p.timepoint] || 'Measure' }),
        el('td', { className: 'num', text: String(p.total) }),
        el('td', { text: bandLabel(bands, p.severity) }),
      ]));
    });
    if (points.length === 0) tbody.appendChild(el('tr', {}, [el('td', { colspan: '4', text: 'Not measured yet.' })]));
    var change = outcomes.change[k];
    var changeText = change === null ? '' : signed(change) + ' since baseline' + (k === 'phq9' && change <= -5 ? ' (clinically meaningful fall)' : '');
    $(k + '-change').textContent = changeText;
    $(k + '-change').className = 'change ' + changeClass(k, change);
    var canvas = $(k + '-chart');
    canvas.setAttribute('aria-label', INSTRUMENT[k].name + ' totals over time: ' + (points.map(function (p) {
      return (TIMEPOINT_TEXT[p.timepoint] || 'measure') + ' ' + p.total + ' (' + bandLabel(bands, p.severity) + ')';
    }).join('; ') || 'none yet') + (changeText ? '. ' + changeText + '.' : '.'));
    if (!window.Chart) return;
    charts.push(new window.Chart(canvas, {
      type: 'line',
      data: {
        labels: points.map(function (p) { return [TIMEPOINT_TEXT[p.timepoint] || 'Measure', day(p.at)]; }),
        datasets: [{
          label: INSTRUMENT[k].name + ' total',
          data: points.map(function (p) { return p.total; }),
          borderColor: '#0d47a1',
          backgroundColor: '#0d47a1',
          borderWidth: 3,
          pointRadius: 5,
          pointHoverRadius: 7,
          tension: 0,
          showValues: true,
        }],
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        layout: { padding: { top: 18 } },
        scales: {
          y: { min: 0, max: INSTRUMENT[k].max, ticks: { stepSize: k === 'phq9' ? 3 : 3, color: '#263238' }, title: { display: true, text: 'Total score', color: '#263238' }, grid: { color: 'rgba(0,0,0,0.06)' } },
          x: { offset: true, ticks: { color: '#263238' }, grid: { display: false } },
        },
        plugins: { legend: { display: false }, severityBands: { bands: bands, max: INSTRUMENT[k].max }, tooltip: { enabled: true } },
      },
      plugins: [bandsPlugin, valueLabels],
    }));
  }

  // ---- timeline -------------------------------------------------------------------------
  function badge(text, cls) { return el('span', { className: 'badge ' + cls, text: text }); }

  function vitalsBlock(s, threshold) {
    var wrap = el('div', { className: 'vitals' });
    if (!s.vitals || s.vitals.length === 0) return wrap;
    var above = function (v) { return v.systolic > threshold.systolicAbove || v.diastolic > threshold.diastolicAbove; };
    var canvas = el('canvas', { id: 'vitals-chart-' + s.sessionNumber, role: 'img' });
    canvas.setAttribute('aria-label', 'Session ' + s.sessionNumber + ' blood pressure and heart rate over time, alert threshold ' + threshold.systolicAbove + '/' + threshold.diastolicAbove + ' mmHg: ' +
      s.vitals.map(function (v) { return clock(v.at) + ' ' + v.systolic + '/' + v.diastolic + (v.heartRate ? ' HR ' + v.heartRate : '') + (above(v) ? ' above threshold' : ''); }).join('; '));
    wrap.appendChild(el('div', { className: 'canvas-box small' }, [canvas]));
    var table = el('table', { className: 'data' }, [
      el('caption', { text: 'Session ' + s.sessionNumber + ' vital signs (alert above ' + threshold.systolicAbove + '/' + threshold.diastolicAbove + ' mmHg)' }),
      el('thead', {}, [el('tr', {}, ['Time', 'Blood pressure (mmHg)', 'Heart rate (/min)', 'SpO₂ (%)', ''].map(function (h) { return el('th', { scope: 'col', text: h }); }))]),
      el('tbody', {}, s.vitals.map(function (v) {
        return el('tr', { className: above(v) ? 'over' : '' }, [
          el('td', { text: clock(v.at) }),
          el('td', { className: 'num', text: v.systolic + '/' + v.diastolic }),
          el('td', { className: 'num', text: v.heartRate !== undefined ? String(v.heartRate) : '–' }),
          el('td', { className: 'num', text: v.spo2 !== undefined ? String(v.spo2) : '–' }),
          el('td', { text: above(v) ? 'Above threshold' : '' }),
        ]);
      })),
    ]);
    wrap.appendChild(el('details', {}, [el('summary', { text: 'Vital signs as a table' }), table]));
    setTimeout(function () { drawVitals(canvas, s, threshold, above); }, 0);
    return wrap;
  }

  function drawVitals(canvas, s, threshold, above) {
    if (!window.Chart) return;
    var labels = s.vitals.map(function (v) { return clock(v.at); });
    var flat = function (value) { return s.vitals.map(function () { return value; }); };
    charts.push(new window.Chart(canvas, {
      type: 'line',
      data: {
        labels: labels,
        datasets: [
          { label: 'Systolic', data: s.vitals.map(function (v) { return v.systolic; }), borderColor: '#b71c1c', backgroundColor: s.vitals.map(function (v) { return above(v) ? '#b71c1c' : '#ffffff'; }), pointRadius: 4, borderWidth: 2 },
          { label: 'Diastolic', data: s.vitals.map(function (v) { return v.diastolic; }), borderColor: '#0d47a1', backgroundColor: '#ffffff', pointRadius: 4, borderWidth: 2 },
          { label: 'Heart rate', data: s.vitals.map(function (v) { return v.heartRate === undefined ? null : v.heartRate; }), borderColor: '#37474f', backgroundColor: '#37474f', pointRadius: 3, borderWidth: 1.5, borderDash: [2, 3] },
          { label: 'Systolic alert above ' + threshold.systolicAbove, data: flat(threshold.systolicAbove), borderColor: '#b71c1c', borderDash: [8, 5], borderWidth: 1.5, pointRadius: 0 },
          { label: 'Diastolic alert above ' + threshold.diastolicAbove, data: flat(threshold.diastolicAbove), borderColor: '#0d47a1', borderDash: [8, 5], borderWidth: 1.5, pointRadius: 0 },
        ],
      },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        scales: { y: { suggestedMin: 40, suggestedMax: 190, ticks: { color: '#263238' }, title: { display: true, text: 'mmHg · beats/min', color: '#263238' } }, x: { ticks: { color: '#263238' } } },
        plugins: { legend: { position: 'bottom', labels: { color: '#263238', boxWidth: 18 } } },
      },
    }));
  }

  function renderTimeline(course) {
    var ol = $('timeline');
    ol.textContent = '';
    var events = [];
    var threshold = course.alertThreshold;
    if (course.screening) {
      var sc = course.screening;
      var reasons = (sc.reasons || []).map(function (r) {
        return el('li', { className: r.code === 'phq9-self-harm' ? 'reason safety' : 'reason' }, [badge(r.severity === 'absolute' ? 'Absolute' : 'Caution', r.severity), ' ' + r.text]);
      });
      var body = [el('p', {}, ['Outcome: ', badge(OUTCOME_TEXT[sc.outcome] || sc.outcome, sc.outcome)])];
      body.push(reasons.length ? el('ul', { className: 'reasons' }, reasons) : el('p', { text: 'No contraindication or caution found.' }));
      if (sc.review) body.push(el('p', { text: 'Clinician review: ' + sc.review.decision + ' by ' + sc.review.reviewer + (sc.review.note ? ' — ' + sc.review.note : '') }));
      events.push({ at: sc.performedAt, kind: 'screening', title: 'Screening', body: body });
    }
    events.push({ at: course.startsAt || course.startDate + 'T00:00:00Z', kind: 'start', title: 'Course started · preparation', dateOnly: true,
      body: [el('p', { text: 'Preparatory psychotherapy: alliance, intention setting, set and setting, education.' })] });
    (course.sessionDetails || []).forEach(function (s, i) {
      var dose = s.dose ? s.dose.value + ' ' + s.dose.unit : '';
      var minutes = Math.round((Date.parse(s.end) - Date.parse(s.start)) / 60000);
      var head = el('p', {}, [
        badge(cap((s.doseLevel || '') + ' dose'), 'dose'), ' ',
        (s.route || '') + (dose ? ' · ' + dose : '') + ' · ' + clock(s.start) + '–' + clock(s.end) + ' (' + minutes + ' min)',
        s.alert ? ' ' : '', s.alert ? badge('Blood pressure alert', 'escalated') : '',
      ]);
      events.push({ at: s.start, kind: 'session', title: 'Dosing session ' + s.sessionNumber, body: [head, vitalsBlock(s, threshold, i)] });
    });
    (course.measures || []).forEach(function (m) {
      var parts = [];
      if (m.phq9Total !== null) parts.push('PHQ-9 ' + m.phq9Total);
      if (m.gad7Total !== null) parts.push('GAD-7 ' + m.gad7Total);
      var body = [el('p', { text: parts.join(' · ') })];
      if (m.selfHarm) body.push(el('p', {}, [badge('PHQ-9 item 9 positive: safety alert sent', 'escalated')]));
      events.push({ at: m.measuredAt, kind: 'measure', title: 'Measures · ' + (m.timepointText || 'Measure'), body: body });
    });
    (course.followUps || []).forEach(function (f) {
      var overdue = f.status === 'scheduled' && Date.parse(f.dueBy) < Date.now();
      var body = [el('p', {}, [badge(cap(overdue ? 'overdue' : f.status), overdue ? 'escalated' : f.status), ' due by ' + when(f.dueBy) + (f.completedAt ? ' · done ' + when(f.completedAt) : '')])];
      events.push({ at: f.dueBy, kind: 'follow-up', title: 'Integration follow-up ' + f.sequence + ' after session ' + f.sessionNumber, body: body });
    });
    (course.goalsOfCareDiscussions || []).forEach(function (g) {
      events.push({ at: g.discussedAt, kind: 'goals', title: 'Goals-of-care discussion', body: [el('p', { text: (course.goals || []).length + ' goal(s) added to the care plan; see Goals of care below.' })] });
    });
    if (course.stoppedAt) {
      events.push({ at: course.stoppedAt, kind: 'stop', title: STOP_TEXT[course.stoppedReason] || 'Course stopped', body: [el('p', { text: 'Pending follow-ups were cancelled.' })] });
    }
    events.sort(function (a, b) { return Date.parse(a.at) - Date.parse(b.at); });
    events.forEach(function (e) {
      ol.appendChild(el('li', { className: 'event ev-' + e.kind, 'data-kind': e.kind }, [
        el('div', { className: 'event-when' }, [el('time', { datetime: e.at, text: e.dateOnly ? day(e.at) : when(e.at) })]),
        el('div', { className: 'event-body' }, [el('h3', { text: e.title })].concat(e.body)),
      ]));
    });
  }

  function renderGoals(course) {
    var box = $('goals');
    box.textContent = '';
    var discussions = course.goalsOfCareDiscussions || [];
    if (discussions.length === 0) {
      box.appendChild(el('p', { className: 'calm', text: 'No goals-of-care discussion recorded yet.' }));
      return;
    }
    discussions.forEach(function (d) {
      box.appendChild(el('h3', { text: 'Discussed ' + when(d.discussedAt) + (d.participants.length ? ' with ' + d.participants.join(', ') : '') }));
      box.appendChild(el('ul', { className: 'goals' }, d.goals.map(function (g) {
        return el('li', {}, [g.description, g.priority ? ' ' : '', g.priority ? badge(g.priority, 'dose') : '']);
      })));
      if (d.preferences.length) {
        box.appendChild(el('dl', { className: 'summary prefs' }, d.preferences.map(function (p) {
          return el('div', { className: 'pair' }, [el('dt', { text: p.label }), el('dd', { text: p.value })]);
        })));
      }
      if (d.notes.length) box.appendChild(el('ul', { className: 'notes' }, d.notes.map(function (n) { return el('li', { text: n }); })));
    });
  }

  function render(course, outcomes) {
    charts.forEach(function (c) { c.destroy(); });
    charts = [];
    zone = course.timeZone || 'UTC';
    var p = course.patient || {};
    $('title').textContent = (p.name || 'Patient') + ' · KAP course';
    document.title = (p.name || 'Patient') + ' · KAP course';
    $('subtitle').textContent = [p.identifier ? 'Hospital ID ' + p.identifier : '', p.birthDate ? 'born ' + day(p.birthDate) : '', 'course ' + course.courseId].filter(Boolean).join(' · ');
    $('course').hidden = false;
    renderAlerts(course);
    renderSummary(course, outcomes);
    renderScores('phq9', course, outcomes);
    renderScores('gad7', course, outcomes);
    renderTimeline(course, outcomes);
    renderGoals(course);
    document.body.setAttribute('data-ready', 'true');
  }

  document.addEventListener('DOMContentLoaded', function () {
    $('token-form').addEventListener('submit', function (ev) {
      ev.preventDefault();
      token = $('token').value.trim() || null;
      $('token').value = '';
      load();
    });
    load();
  });
})();
