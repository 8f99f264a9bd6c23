import { formatDate, formatInstant, NOTE_TEXT, trajectoryRows, type CourseNoteModel } from './course-note-model';

/**
 * The course note as a self-contained HTML document (no scripts, no external resources), as
 * an EHR's document viewer shows an attachment. Every value is escaped: names, notes and
 * goals were typed by patients and clinicians.
 */

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text as HTML text or attribute content. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (ch) => ESCAPES[ch] ?? ch);
}

const STYLE = [
  'body{font-family:Helvetica,Arial,sans-serif;font-size:14px;line-height:1.4;margin:2em;color:#111}',
  'h1{font-size:20px}h2{font-size:16px;margin-top:1.5em;border-bottom:1px solid #999}',
  'table{border-collapse:collapse}th,td{border:1px solid #999;padding:2px 6px;text-align:left;vertical-align:top}',
  '.alert{color:#a00;font-weight:bold}',
].join('');

export function courseNoteHtml(model: CourseNoteModel, options: { readonly timeZone: string }): string {
  const tz = options.timeZone;
  const t = (iso: string): string => escapeHtml(formatInstant(iso, tz));
  const e = escapeHtml;
  const out: string[] = [];
  const table = (head: readonly string[], rows: readonly (readonly string[])[]): string =>
    `<table><thead><tr>${head.map((h) => `<th>${e(h)}</th>`).join('')}</tr></thead><tbody>${rows
      .map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`)
      .join('')}</tbody></table>`;
  const none = '<p>None recorded.</p>';

  out.push(`<h1>${e(NOTE_TEXT.title)}</h1>`);
  const p = model.patient;
  out.push(
    '<dl>',
    `<dt>Patient</dt><dd>${e(p.name ?? 'Name not recorded')}</dd>`,
    ...(p.identifier ? [`<dt>Identifier</dt><dd>${e(p.identifier)}</dd>`] : []),
    ...(p.birthDate ? [`<dt>Birth date</dt><dd>${e(formatDate(p.birthDate, tz))}</dd>`] : []),
    `<dt>Course</dt><dd>${e(formatDate(model.period.start, tz))} to ${model.period.end ? t(model.period.end) : 'ongoing'}; ${e(NOTE_TEXT.status(model))}</dd>`,
    `<dt>As of</dt><dd>${t(model.asOf)}</dd>`,
    `<dt>Times</dt><dd>shown in ${e(tz)}</dd>`,
    '</dl>',
  );

  out.push('<h2>Screening</h2>');
  const s = model.screening;
  if (!s) out.push(none);
  else {
    out.push(`<p>Performed ${t(s.performedAt)}; outcome: <strong>${e(NOTE_TEXT.outcome(s.outcome))}</strong>.</p>`);
    if (s.reasons.length > 0) out.push(`<ul>${s.reasons.map((r) => `<li>${e(r.text)} (${e(r.severity)})</li>`).join('')}</ul>`);
    else out.push('<p>No contraindication or caution found.</p>');
    if (s.review) {
      out.push(
        `<p>Reviewed ${t(s.review.at)} by ${e(s.review.reviewer)}: ${e(s.review.decision)}${s.review.note ? ` \u2014 ${e(s.review.note)}` : ''}.</p>`,
      );
    }
  }

  out.push('<h2>Safety alerts</h2>');
  out.push(
    model.safetyAlerts.length === 0
      ? none
      : `<ul>${model.safetyAlerts.map((a) => `<li class="alert">${t(a.raisedAt)}: ${e(a.text)}${a.active ? ' (active)' : ' (closed)'}</li>`).join('')}</ul>`,
  );

  out.push('<h2>Dosing sessions</h2>');
  out.push(
    model.sessions.length === 0
      ? none
      : table(
          ['Session', 'Time', 'Dose level', 'Dose', 'Route', 'In-session alerts'],
          model.sessions.map((x) => [
            String(x.sessionNumber),
            `${t(x.start)} \u2013 ${t(x.end)}`,
            e(x.doseLevel),
            x.dose ? e(`${x.dose.value} ${x.dose.unit}`) : '\u2014',
            e(x.route ?? '\u2014'),
            x.alerts.length > 0 ? x.alerts.map((a) => `<span class="alert">${e(a)}</span>`).join('<br>') : 'None',
          ]),
        ),
  );

  out.push('<h2>PHQ-9 and GAD-7</h2>');
  const rows = trajectoryRows(model);
  out.push(
    rows.length === 0
      ? none
      : table(
          ['Timepoint', 'Date', 'PHQ-9', 'PHQ-9 change', 'GAD-7', 'GAD-7 change'],
          rows.map((r) => [
            e(r.label) + (r.selfHarm ? ' <span class="alert">(PHQ-9 item 9 positive)</span>' : ''),
            t(r.measuredAt),
            e(r.phq9),
            e(r.phq9Change),
            e(r.gad7),
            e(r.gad7Change),
          ]),
        ) + '<p>Change is since the baseline (screening) total; a negative change is an improvement.</p>',
  );

  out.push('<h2>Goals of care</h2>');
  if (model.goalsOfCare.length === 0) out.push(none);
  for (const g of model.goalsOfCare) {
    out.push(`<h3>Discussed ${t(g.discussedAt)}${g.participants.length > 0 ? ` with ${e(g.participants.join(', '))}` : ''}</h3>`);
    if (g.goals.length > 0)
      out.push(`<ul>${g.goals.map((x) => `<li>${e(x.description)}${x.priority ? ` (${e(x.priority)})` : ''}</li>`).join('')}</ul>`);
    if (g.preferences.length > 0) out.push(`<ul>${g.preferences.map((x) => `<li>${e(x.label)}: ${e(x.value)}</li>`).join('')}</ul>`);
    for (const n of g.notes) out.push(`<p>${e(n)}</p>`);
  }

  out.push('<h2>Follow-ups</h2>');
  out.push(
    model.followUps.length === 0
      ? none
      : table(
          ['After session', 'Follow-up', 'Due by', 'Status', 'Completed', 'Note'],
          model.followUps.map((f) => [
            String(f.sessionNumber),
            String(f.sequence),
            t(f.dueBy),
            e(f.status),
            f.completedAt ? t(f.completedAt) : '\u2014',
            e(f.note ?? ''),
          ]),
        ),
  );

  out.push('<h2>Course stop</h2>');
  out.push(
    model.stop ? `<p>Stopped ${t(model.stop.at)}: ${e(NOTE_TEXT.stopReason(model.stop.reason))}.</p>` : '<p>The course is ongoing.</p>',
  );

  const title = `${NOTE_TEXT.title}${p.name ? ` \u2014 ${p.name}` : ''}`;
  return `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>${e(title)}</title><style>${STYLE}</style></head><body>\n${out.join('\n')}\n</body></html>\n`;
}
