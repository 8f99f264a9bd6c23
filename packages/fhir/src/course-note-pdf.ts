import PDFDocument from 'pdfkit';
import { formatDate, formatInstant, NOTE_TEXT, trajectoryRows, type CourseNoteModel } from './course-note-model';

/**
 * The course note as a PDF (pdfkit), with the same sections as the HTML. Deterministic: the
 * creation date is the model's `asOf` (it also seeds the file id), the fonts are the PDF
 * standard fonts (nothing embedded, no random subset tag), so the same course gives the same
 * bytes and an unchanged note is recognised as such.
 */

/** Characters outside WinAnsi beyond Latin-1 that the standard fonts can still show. */
const WIN_ANSI_EXTRA = new Set('€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ');

/**
 * Text the standard fonts can draw: WinAnsi characters as they are, the minus sign as a
 * hyphen, anything else (other scripts, emoji, controls) as `?`. The HTML keeps the original.
 */
export function pdfSafeText(value: string): string {
  let out = '';
  for (const ch of value.replace(/\u2212/g, '-').replace(/\r\n?/g, '\n')) {
    const code = ch.codePointAt(0) ?? 0;
    const ok = ch === '\n' || (code >= 0x20 && code <= 0x7e) || (code >= 0xa0 && code <= 0xff) || WIN_ANSI_EXTRA.has(ch);
    out += ok ? ch : '?';
  }
  return out;
}

const BODY = 10;

export function courseNotePdf(model: CourseNoteModel, options: { readonly timeZone: string }): Promise<Buffer> {
  const tz = options.timeZone;
  const t = (iso: string): string => formatInstant(iso, tz);
  const created = new Date(model.asOf);
  const doc = new PDFDocument({
    size: 'A4',
    margin: 50,
    compress: true,
    // Kept until the end, so each page's footer can say "page i of n".
    bufferPages: true,
    info: {
      Title: pdfSafeText(`${NOTE_TEXT.title}${model.patient.name ? ` - ${model.patient.name}` : ''}`),
      Author: 'KAP FHIR adapter',
      Subject: 'Course summary',
      CreationDate: created,
      ModDate: created,
    },
  });
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('data', (chunk: Buffer) => chunks.push(chunk));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });

  const heading = (text: string): void => {
    doc.moveDown(0.8).font('Helvetica-Bold').fontSize(13).text(pdfSafeText(text)).moveDown(0.3).font('Helvetica').fontSize(BODY);
  };
  const para = (text: string): void => {
    doc.font('Helvetica').fontSize(BODY).text(pdfSafeText(text));
  };
  /** `widths` in points, `'*'` for a share of what is left (A4 less margins is 495 pt). */
  const table = (head: readonly string[], rows: readonly (readonly string[])[], widths: (number | '*')[]): void => {
    doc.font('Helvetica').fontSize(9);
    doc.table({
      position: { x: doc.page.margins.left },
      columnStyles: widths,
      defaultStyle: { padding: 3, border: 0.5 },
      data: [
        head.map((h) => ({ text: pdfSafeText(h), font: { src: 'Helvetica-Bold' }, type: 'TH' as const })),
        ...rows.map((r) => r.map(pdfSafeText)),
      ],
    });
    doc.x = doc.page.margins.left;
    doc.fontSize(BODY);
  };
  const none = (): void => para('None recorded.');

  doc.font('Helvetica-Bold').fontSize(16).text(NOTE_TEXT.title).moveDown(0.5);
  const p = model.patient;
  para(`Patient: ${p.name ?? 'Name not recorded'}`);
  if (p.identifier) para(`Identifier: ${p.identifier}`);
  if (p.birthDate) para(`Birth date: ${formatDate(p.birthDate, tz)}`);
  para(
    `Course: ${formatDate(model.period.start, tz)} to ${model.period.end ? t(model.period.end) : 'ongoing'}; ${NOTE_TEXT.status(model)}`,
  );
  para(`As of: ${t(model.asOf)}. Times shown in ${tz}.`);

  heading('Screening');
  const s = model.screening;
  if (!s) none();
  else {
    para(`Performed ${t(s.performedAt)}; outcome: ${NOTE_TEXT.outcome(s.outcome)}.`);
    if (s.reasons.length === 0) para('No contraindication or caution found.');
    for (const r of s.reasons) para(`\u2022 ${r.text} (${r.severity})`);
    if (s.review)
      para(`Reviewed ${t(s.review.at)} by ${s.review.reviewer}: ${s.review.decision}${s.review.note ? ` \u2014 ${s.review.note}` : ''}.`);
  }

  heading('Safety alerts');
  if (model.safetyAlerts.length === 0) none();
  for (const a of model.safetyAlerts) para(`\u2022 ${t(a.raisedAt)}: ${a.text}${a.active ? ' (active)' : ' (closed)'}`);

  heading('Dosing sessions');
  if (model.sessions.length === 0) none();
  else
    table(
      ['Session', 'Time', 'Dose level', 'Dose', 'Route', 'In-session alerts'],
      model.sessions.map((x) => [
        String(x.sessionNumber),
        `${t(x.start)} \u2013 ${t(x.end)}`,
        x.doseLevel,
        x.dose ? `${x.dose.value} ${x.dose.unit}` : '\u2014',
        x.route ?? '\u2014',
        x.alerts.length > 0 ? x.alerts.join('\n') : 'None',
      ]),
      [40, 175, 55, 55, 75, '*'],
    );

  heading('PHQ-9 and GAD-7');
  const rows = trajectoryRows(model);
  if (rows.length === 0) none();
  else {
    table(
      ['Timepoint', 'Date', 'PHQ-9', 'PHQ-9 change', 'GAD-7', 'GAD-7 change'],
      rows.map((r) => [
        r.label + (r.selfHarm ? ' (PHQ-9 item 9 positive)' : ''),
        t(r.measuredAt),
        r.phq9,
        r.phq9Change,
        r.gad7,
        r.gad7Change,
      ]),
      [110, 85, 90, 50, 90, '*'],
    );
    para('Change is since the baseline (screening) total; a negative change is an improvement.');
  }

  heading('Goals of care');
  if (model.goalsOfCare.length === 0) none();
  for (const g of model.goalsOfCare) {
    doc
      .font('Helvetica-Bold')
      .fontSize(BODY)
      .text(pdfSafeText(`Discussed ${t(g.discussedAt)}${g.participants.length > 0 ? ` with ${g.participants.join(', ')}` : ''}`));
    for (const x of g.goals) para(`\u2022 ${x.description}${x.priority ? ` (${x.priority})` : ''}`);
    for (const x of g.preferences) para(`\u2022 ${x.label}: ${x.value}`);
    for (const n of g.notes) para(n);
  }

  heading('Follow-ups');
  if (model.followUps.length === 0) none();
  else
    table(
      ['After session', 'Follow-up', 'Due by', 'Status', 'Completed', 'Note'],
      model.followUps.map((f) => [
        String(f.sessionNumber),
        String(f.sequence),
        t(f.dueBy),
        f.status,
        f.completedAt ? t(f.completedAt) : '\u2014',
        f.note ?? '',
      ]),
      [50, 50, 85, 65, 85, '*'],
    );

  heading('Course stop');
  para(model.stop ? `Stopped ${t(model.stop.at)}: ${NOTE_TEXT.stopReason(model.stop.reason)}.` : 'The course is ongoing.');

  footers(doc, `${p.name ?? 'Name not recorded'}${p.identifier ? `, ${p.identifier}` : ''} — course note as of ${t(model.asOf)} (${tz})`);
  doc.end();
  return done;
}

/** Every page names the patient (a printed page may be separated from the rest) and its place in the note. */
function footers(doc: PDFKit.PDFDocument, who: string): void {
  const range = doc.bufferedPageRange();
  for (let i = range.start; i < range.start + range.count; i++) {
    doc.switchToPage(i);
    const { left, right, bottom } = doc.page.margins;
    // Written inside the bottom margin, which pdfkit would otherwise take for a page break.
    doc.page.margins.bottom = 0;
    doc
      .font('Helvetica')
      .fontSize(8)
      .text(pdfSafeText(`${who} — page ${i - range.start + 1} of ${range.count}`), left, doc.page.height - bottom / 2 - 4, {
        width: doc.page.width - left - right,
        align: 'center',
        lineBreak: false,
      });
    doc.page.margins.bottom = bottom;
  }
}
