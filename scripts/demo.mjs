// A whole KAP course for one synthetic palliative patient, against the running service
// (`npm start` first): screening, clinician review, course with follow-ups in seconds,
// two dosing sessions, a missed follow-up that escalates, PHQ-9/GAD-7 after each session and at
// the end (one with PHQ-9 item 9 positive, which alerts the care team), goals of care,
// completion; then what reached the EHR, the symptom trajectory, and the course page's URL. Plain Node and the typed client @kap/client.
// DEMO_URL picks the service (default http://localhost:3000, or PORT); DEMO_TOKEN is its API token if it has one.
import { createKapClient, KapApiError } from '@kap/client';

const base = (process.env.DEMO_URL ?? `http://localhost:${process.env.PORT ?? 3000}`).replace(/\/+$/, '');
const run = Date.now().toString(36);
const color = process.stdout.isTTY ? (c, s) => `\x1b[${c}m${s}\x1b[0m` : (_c, s) => s;
const step = (text) => console.log(`${color('36', '▸')} ${text}`);
const detail = (text) => console.log(`  ${color('90', text)}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let calls = 0;
// The typed client (@kap/client), as a hospital developer would call the API: each POST's
// Idempotency-Key names this run and call, so a rerun of the demo never replays an old one.
const kap = createKapClient({
  baseUrl: base,
  ...(process.env.DEMO_TOKEN ? { token: process.env.DEMO_TOKEN } : {}),
  idempotencyKey: () => `demo-${run}-${calls}`,
});
async function call(operation, args) {
  calls += 1;
  try {
    return await kap[operation](args);
  } catch (err) {
    if (err instanceof KapApiError) {
      console.error(`${err.method.toUpperCase()} ${err.path} answered ${err.status}:\n${JSON.stringify(err.body, null, 2)}`);
    } else {
      console.error(`The service does not answer at ${base}. Start it with \`npm start\` (or set DEMO_URL), then run the demo again.`);
    }
    process.exit(1);
  }
}

const iso = (msFromNow) => new Date(Date.now() + msFromNow).toISOString();
const screeningAt = iso(-86_400_000);
const session = (n) => ({
  sessionNumber: n,
  doseLevel: n === 1 ? 'low' : 'moderate',
  route: 'intramuscular',
  dose: { value: n === 1 ? 0.5 : 0.75, unit: 'mg/kg' },
  start: iso(-95 * 60_000),
  end: iso(-1_000),
  vitals: [
    { at: iso(-95 * 60_000), systolic: 132, diastolic: 84, heartRate: 78, spo2: 97 },
    { at: iso(-55 * 60_000), systolic: 148, diastolic: 92, heartRate: 88, spo2: 96 },
    { at: iso(-10 * 60_000), systolic: 134, diastolic: 85, heartRate: 76, spo2: 97 },
  ],
  experience: n === 1 ? { dissociation: 4, egoDissolution: 2, distress: 1 } : { dissociation: 6, egoDissolution: 7, distress: 2 },
});

async function waitForFollowUps(courseId, want, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const course = await call('getCourse', { path: { id: courseId } });
    const statuses = course.followUps.map((f) => f.status);
    if (want(statuses)) return course;
    if (Date.now() > deadline) throw new Error(`follow-ups still ${statuses.join(', ')}`);
    await sleep(500);
  }
}

console.log(`KAP FHIR adapter demo against ${base}\n`);
const health = await call('getReadiness');
detail(
  `ready: ${Object.entries(health.checks)
    .map(([k, v]) => `${k} ${v.status}`)
    .join(', ')}`,
);

step('Screening a synthetic palliative patient (recurrent cystitis: a caution)');
const screening = await call('createScreening', {
  body: {
    patient: {
      system: 'urn:oid:2.16.840.1.113883.19.5.99999.1',
      value: `DEMO-${run}`,
      name: { family: 'Demo', given: ['Ada'] },
      birthDate: '1948-02-11',
      gender: 'female',
    },
    performedAt: screeningAt,
    contraindications: { recurrentCystitis: true },
    vitals: { systolic: 132, diastolic: 84, heartRate: 76, spo2: 96, respiratoryRate: 16, weightKg: 58.4 },
    measures: { phq9: [2, 2, 2, 1, 1, 2, 1, 1, 0], gad7: [2, 2, 1, 1, 1, 1, 2] },
    consent: { informed: true, signedAt: iso(-86_000_000) },
  },
});
detail(`outcome ${screening.outcome}: ${screening.reasons.map((r) => `${r.code} (${r.severity})`).join(', ')}`);
detail(`${screening.resources.entry.length} FHIR resources: ${summarize(screening.resources)}`);

step('Clinician review approves it');
await call('reviewScreening', {
  path: { id: screening.screeningId },
  body: { decision: 'approved', reviewer: 'Dr Demo Reviewer', note: 'Urology history reviewed.' },
});

step('Starting the course on the screening day, with integration follow-ups 8, 16 and 24 seconds after each session');
// The clinic's calendar decides what "the screening day" is (CLINIC_TIME_ZONE); the alerts list names the zone.
const { timeZone } = await call('listAlerts');
const clinicDay = (at) =>
  new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(at));
const course = await call('createCourse', {
  body: { screeningId: screening.screeningId, startDate: clinicDay(screeningAt), followUpOffsets: ['PT8S', 'PT16S', 'PT24S'] },
});
detail(
  `course ${course.courseId}, CarePlan ${course.carePlanId}, first day ${clinicDay(screeningAt)} in the clinic's time zone (${timeZone})`,
);

step('Dosing session 1 (low dose)');
const s1 = await call('createDosingSession', { path: { id: course.courseId }, body: session(1) });
detail(`${s1.resources.entry.length} resources: ${summarize(s1.resources)}`);
detail(`follow-ups due ${s1.followUps.map((f) => new Date(f.dueBy).toLocaleTimeString()).join(', ')}`);

step('The first follow-up takes place; the other two are missed');
await call('completeFollowUp', {
  path: { id: s1.followUps[0].id },
  body: { completedAt: iso(0), note: 'Integration: meaning of the imagery' },
});
detail('waiting for the missed ones to fall due and escalate…');
const afterS1 = await waitForFollowUps(course.courseId, (s) => s.filter((x) => x === 'escalated').length === 2, 60_000);
detail(`follow-ups: ${afterS1.followUps.map((f) => f.status).join(', ')}`);

await measure('after-session-1', { phq9: [2, 1, 2, 1, 1, 1, 1, 1, 0], gad7: [1, 2, 1, 1, 1, 1, 1] });

step('Dosing session 2 (moderate dose), and all three follow-ups on time');
const s2 = await call('createDosingSession', { path: { id: course.courseId }, body: session(2) });
for (const f of s2.followUps) await call('completeFollowUp', { path: { id: f.id }, body: { completedAt: iso(0) } });
// Item 9 answered "several days": the alert reaches the care team whatever else the scores say.
await measure('after-session-2', { phq9: [1, 1, 1, 1, 0, 1, 1, 0, 1], gad7: [1, 1, 1, 1, 0, 1, 1] });

step('A clinician acknowledges the self-harm alert (unacknowledged, it would escalate every SAFETY_ALERT_ACK_WITHIN)');
const open = await call('listAlerts');
const alert = open.alerts.find((a) => a.courseId === course.courseId && a.kind === 'phq9-self-harm');
const acknowledged = await call('acknowledgeAlert', {
  path: { id: alert.id },
  body: { by: 'Dr Demo On-call', note: 'Phoned the patient: safe, visit booked for today' },
});
detail(`raised ${alert.raisedAtClinic}; now ${acknowledged.status} by ${acknowledged.acknowledgedBy}`);
console.log(`  ${color('1', 'Alert history')}`);
for (const e of acknowledged.history) {
  const who = e.by ? ` by ${e.by}` : '';
  const what = e.event === 'escalated' ? `escalated (${e.escalation}) at stat priority` : e.event;
  detail(
    `${new Date(e.at).toLocaleString('en-GB', { timeZone, dateStyle: 'medium', timeStyle: 'short' })} (${timeZone})  ${what}${who}${e.note ? `: ${e.note}` : ''}${e.communication ? `  → ${e.communication}` : ''}`,
  );
}

step('Goals-of-care discussion');
await call('recordGoalsOfCare', {
  path: { id: course.courseId },
  body: {
    discussedAt: iso(0),
    participants: ['Patient', 'Daughter', 'Palliative care physician', 'KAP therapist'],
    values: ['Being at home', 'Staying clear-headed', 'Making peace with her brother'],
    goals: [
      { description: 'Remain at home until the end of life', priority: 'high-priority' },
      { description: 'Write letters to the grandchildren' },
    ],
    preferences: { placeOfCare: 'Home, with hospice support', codeStatus: 'Do not attempt resuscitation' },
    decisions: ['Hospice referral', 'No further hospital admissions'],
  },
});

await measure('end-of-course', { phq9: [1, 1, 1, 0, 0, 1, 1, 0, 0], gad7: [1, 1, 0, 1, 0, 1, 0] });

step('Completing the course');
await call('stopCourse', { path: { id: course.courseId }, body: { reason: 'completed' } });

step('Waiting for everything to reach the EHR');
const deadline = Date.now() + 60_000;
let final;
for (;;) {
  final = await call('getCourse', { path: { id: course.courseId } });
  // Kept back (a type or category this EHR does not take) is settled: it stays here on purpose.
  const open = final.sync.filter((s) => s.status !== 'synced' && s.status !== 'not-sent');
  if (open.length === 0) break;
  if (open.every((s) => s.status === 'waiting-for-patient')) {
    console.error(
      `The EHR may not create Patients and has no Patient with this patient's identifier: ${open.length} resources wait (waiting-for-patient) until the hospital registers them.`,
    );
    process.exit(1);
  }
  if (Date.now() > deadline) {
    console.error(
      `${open.length} resources still not in the EHR: ${open.map((s) => `${s.reference} ${s.status} ${s.lastError ?? ''}`).join('; ')}`,
    );
    process.exit(1);
  }
  await sleep(500);
}

step("The hospital's feed: a second synthetic patient dies during their course (HL7 v2 ADT^A03 over MLLP)");
const mllpPort = Number(process.env.DEMO_MLLP_PORT ?? process.env.MLLP_PORT ?? 2575);
const second = await call('createScreening', {
  body: {
    patient: {
      system: 'urn:oid:2.16.840.1.113883.19.5.99999.1',
      value: `DEMO2-${run}`,
      name: { family: 'Demo', given: ['Ben'] },
      birthDate: '1941-07-30',
      gender: 'male',
    },
    performedAt: screeningAt,
    contraindications: {},
    vitals: { systolic: 126, diastolic: 80, heartRate: 70, spo2: 95, respiratoryRate: 15, weightKg: 64.0 },
    consent: { informed: true, signedAt: iso(-86_000_000) },
  },
});
const secondCourse = await call('createCourse', { body: { screeningId: second.screeningId, followUpOffsets: ['PT1H', 'PT2H', 'PT3H'] } });
const secondSession = await call('createDosingSession', { path: { id: secondCourse.courseId }, body: session(1) });
detail(`course ${secondCourse.courseId}: follow-ups ${secondSession.followUps.map((f) => f.status).join(', ')}`);
const { Hl7Client } = await import('@medplum/hl7');
const { Hl7Message } = await import('@medplum/core');
const hl7 = new Hl7Client({ host: process.env.DEMO_MLLP_HOST ?? '127.0.0.1', port: mllpPort });
const controlId = `DEMO${run}`.slice(0, 20);
const a03 = [
  `MSH|^~\\&|ADT|DEMOHOSP|KAP|PALLIATIVE|${new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14)}||ADT^A03^ADT_A03|${controlId}|P|2.5.1|||AL|NE||UNICODE UTF-8`,
  `EVN|A03|${new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14)}`,
  `PID|1||DEMO2-${run}^^^&2.16.840.1.113883.19.5.99999.1&ISO^MR||Demo^Ben||19410730|M`,
  `PV1|1|I|PALL^12^1${'|'.repeat(33)}20`,
].join('\r');
let ack;
try {
  ack = await hl7.sendAndWait(Hl7Message.parse(a03), { timeoutMs: 10_000 });
} catch (err) {
  console.error(`No ACK from the MLLP port ${mllpPort} (${err instanceof Error ? err.message : err}). Is MLLP_PORT set on the service?`);
  process.exit(1);
} finally {
  await hl7.close();
}
detail(
  `ACK ${ack.getSegment('MSA')?.getField(1)?.toString()} for ${ack.getSegment('MSA')?.getField(2)?.toString()} (discharge disposition 20, expired)`,
);
const stoppedSecond = await (async () => {
  const until = Date.now() + 30_000;
  for (;;) {
    const c = await call('getCourse', { path: { id: secondCourse.courseId } });
    if (c.stoppedReason === 'deceased' && c.followUps.every((f) => f.status === 'cancelled')) return c;
    if (Date.now() > until)
      throw new Error(`course still ${c.stoppedReason ?? 'running'}, follow-ups ${c.followUps.map((f) => f.status).join(', ')}`);
    await sleep(300);
  }
})();
detail(
  `course stopped: ${stoppedSecond.stoppedReason}; follow-ups ${stoppedSecond.followUps.map((f) => f.status).join(', ')}; the care team was told`,
);

console.log(`\n${color('1', 'Summary')}`);
console.log(
  `  phase ${final.phase} (${final.stoppedReason}); ${final.sessions.length} sessions; follow-ups ${final.followUps.map((f) => f.status).join(', ')}`,
);
console.log(`  goals: ${final.goals.map((g) => g.description).join('; ')}`);
const byType = {};
for (const s of final.sync) {
  const type = s.reference.split('/')[0];
  const row = (byType[type] ??= { sent: 0, kept: 0, why: new Set() });
  if (s.status === 'synced') row.sent++;
  else {
    row.kept++;
    row.why.add((s.lastError ?? '').replace(/^EHR does not take \w+: /, ''));
  }
}
// The v2 column reads this shell's HL7_OUT_HOST: run the demo with the service's settings.
const v2 = { Observation: 'ORU^R01', DocumentReference: 'MDM^T02' };
const v2On = Boolean(process.env.HL7_OUT_HOST);
console.log(`  what went where (${final.sync.length} resources; FHIR writes each exactly once):`);
console.log(`    ${'type'.padEnd(26)} ${'FHIR write'.padEnd(24)} ${'v2'.padEnd(9)} kept back`);
for (const [type, r] of Object.entries(byType).sort()) {
  const fhir = r.sent ? `${r.sent}${type === 'DocumentReference' ? ' (note)' : ''}` : '-';
  console.log(
    `    ${type.padEnd(26)} ${fhir.padEnd(24)} ${(v2On && v2[type] ? v2[type] : '-').padEnd(9)} ${r.kept ? `${r.kept}: ${[...r.why].join('; ')}` : '-'}`,
  );
}
const patient = final.sync.find((s) => s.reference.startsWith('Patient/'));
const carePlan = final.sync.find((s) => s.reference.startsWith('CarePlan/'));
console.log(`  EHR Patient ${patient?.ehrReference}${carePlan?.ehrReference ? `; the CarePlan ${carePlan.ehrReference}` : ''}`);
detail('`npm run ehr:check` shows, per type, how each is written and whether the Patient is matched (never created) or created');

const outcomes = await call('getCourseOutcomes', { path: { id: course.courseId } });
console.log(`\n${color('1', 'Trajectory')} (the screening is the baseline; a PHQ-9 fall of 5 or more is clinically meaningful)`);
printTrajectory(outcomes);
console.log(`\n${color('1', 'The course page')} for clinicians: ${final.links.page}`);
if (process.env.DEMO_TOKEN) detail('authentication is on: paste the same token into the page when it asks');

/** PHQ-9 then GAD-7 measures during the course, each printed with its total and any alert. */
async function measure(timepoint, scores) {
  step(`Measures ${timepoint.replace(/-/g, ' ')}: PHQ-9 and GAD-7`);
  const res = await call('recordMeasure', { path: { id: course.courseId }, body: { measuredAt: iso(0), timepoint, ...scores } });
  const sum = (a) => a.reduce((x, y) => x + y, 0);
  detail(`PHQ-9 ${sum(scores.phq9)}, GAD-7 ${sum(scores.gad7)}; ${res.resources.entry.length} resources: ${summarize(res.resources)}`);
  for (const alert of res.alerts)
    console.log(
      `  ${color('31', '⚠ ' + alert.text)}\n  ${color('90', `→ ${alert.flag} and urgent ${alert.communication} to the care team (webhook)`)}`,
    );
  return res;
}

function printTrajectory(o) {
  // One row per time measured; an instrument not given that time shows blank.
  const times = [...new Map([...o.phq9, ...o.gad7].map((p) => [p.at, p])).values()].sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  const cell = (list, at) => {
    const p = list.find((x) => x.at === at);
    return p ? `${p.total} ${p.severity}` : '';
  };
  const rows = times.map((t) => [t.timepoint ?? 'measure', cell(o.phq9, t.at), cell(o.gad7, t.at)]);
  const header = ['timepoint', 'PHQ-9', 'GAD-7'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) => `  ${cells.map((c, i) => c.padEnd(widths[i])).join('  │  ')}`;
  console.log(line(header));
  console.log(`  ${widths.map((w) => '─'.repeat(w)).join('──┼──')}`);
  for (const r of rows) console.log(line(r));
  const fmt = (n) => (n === null ? 'n/a' : n > 0 ? `+${n}` : String(n));
  console.log(`  change since baseline: PHQ-9 ${fmt(o.change.phq9)}, GAD-7 ${fmt(o.change.gad7)}`);
}

function summarize(bundle) {
  const counts = {};
  for (const e of bundle.entry) counts[e.resource.resourceType] = (counts[e.resource.resourceType] ?? 0) + 1;
  return Object.entries(counts)
    .map(([t, n]) => (n > 1 ? `${t} ×${n}` : t))
    .join(', ');
}
