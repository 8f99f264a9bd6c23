import { courseNoteId } from '@kap/fhir';
import { WORK, enqueueWork } from '@kap/queue';
import type { Bundle, DocumentReference } from '@medplum/fhirtypes';
import type { KapClient } from '@kap/client';
import { refusal, serveClient, type ServedClient } from '@kap/testkit/client';
import { auditEhr, ehrAll } from '@kap/testkit/ehr-audit';
import { pdfText } from '@kap/testkit/pdf-text';
import { screeningRequest } from '@kap/testkit/requests';
import { startStack, type Stack } from '@kap/testkit/stack';

jest.setTimeout(180_000);

const NAME = { family: "O'Brien", given: ['Hélène'] };
const FULL_NAME = "Hélène O'Brien";

const session = (n: 1 | 2, start: Date) => ({
  sessionNumber: n,
  doseLevel: n === 1 ? ('low' as const) : ('moderate' as const),
  route: 'intramuscular' as const,
  dose: { value: n === 1 ? 0.5 : 0.75, unit: 'mg/kg' as const },
  start: start.toISOString(),
  end: new Date(start.getTime() + 90 * 60_000).toISOString(),
  vitals: [{ at: start.toISOString(), systolic: 128, diastolic: 80, heartRate: 72, spo2: 98 }],
});

const attachment = (note: DocumentReference, contentType: string): Buffer =>
  Buffer.from(note.content.find((c) => c.attachment.contentType === contentType)?.attachment.data ?? '', 'base64');

/** The adapter's stored versions of the course's note, oldest first. */
async function localNotes(kap: KapClient, courseId: string): Promise<DocumentReference[]> {
  const out: DocumentReference[] = [];
  for (let v = 1; ; v++) {
    const read = kap.readFhirResource({ path: { type: 'DocumentReference', id: courseNoteId(courseId, v) } });
    const note = await read.catch(() => undefined);
    if (!note) {
      // The first version not there ends the chain; any other failure fails the test.
      expect((await refusal(read)).status).toBe(404);
      return out;
    }
    out.push(note as unknown as DocumentReference);
  }
}

describe('the course note', () => {
  let stack: Stack;
  let client: ServedClient;

  beforeAll(async () => {
    stack = await startStack();
    client = await serveClient(stack.app);
  });
  afterAll(async () => {
    await client?.close();
    await stack?.close();
  });

  it('is rebuilt as the course changes, reaches the EHR once per version, supersedes the last, and its PDF holds the PHQ-9 table', async () => {
    const { kap } = client;
    // Baseline PHQ-9 10 (moderate), GAD-7 8 (mild).
    const screening = await kap.createScreening({ body: screeningRequest({ patient: { ...screeningRequest().patient, name: NAME } }) });
    // Started two days ago, so the sessions and measures of the last hours fall in it whatever the time of day.
    const startDate = new Date(Date.now() - 2 * 86_400_000).toISOString().slice(0, 10);
    const course = await kap.createCourse({ body: { screeningId: screening.screeningId, startDate, followUpOffsets: ['P14D'] } });
    const courseId = course.courseId;
    const hourAgo = (h: number) => new Date(Date.now() - h * 3600_000);
    const s1 = await kap.createDosingSession({ path: { id: courseId }, body: session(1, hourAgo(5)) });
    await kap.recordMeasure({
      path: { id: courseId },
      body: {
        measuredAt: hourAgo(3).toISOString(),
        timepoint: 'after-session-1',
        phq9: [1, 1, 1, 1, 0, 1, 0, 0, 0],
        gad7: [1, 1, 1, 0, 0, 0, 0],
      },
    });
    await kap.createDosingSession({ path: { id: courseId }, body: session(2, hourAgo(2.5)) });

    // Four changes were committed while no worker ran: one rebuild covers them all.
    const open = await stack.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM outbox WHERE topic = $1 AND completed_at IS NULL`, [
      WORK.courseNote.topic,
    ]);
    expect(open[0]?.n).toBe(4);
    stack.startWorker();
    stack.startWorker();
    await stack.drained(90_000);
    expect(await localNotes(kap, courseId)).toHaveLength(1);
    // One job rebuilt and the others found their rows done by it, rather than one writing and the rest rebuilding to find it unchanged.
    const outcomes = (await stack.queues.courseNotes.getCompleted()).map((j) => (j.returnvalue as { outcome: string }).outcome);
    expect(outcomes.filter((o) => o !== 'done-by-another')).toEqual(['written']);
    expect(outcomes.length).toBeGreaterThanOrEqual(4);

    await kap.recordMeasure({
      path: { id: courseId },
      body: {
        measuredAt: new Date().toISOString(),
        timepoint: 'after-session-2',
        phq9: [0, 1, 0, 1, 0, 0, 0, 0, 0],
        gad7: [0, 1, 0, 0, 0, 0, 0],
      },
    });
    await stack.drained(90_000);
    await kap.recordGoalsOfCare({
      path: { id: courseId },
      body: {
        discussedAt: new Date().toISOString(),
        participants: ['Patient', 'Palliative care physician'],
        values: ['Being at home with family'],
        goals: [{ description: 'Remain at home <until> the end & beyond', priority: 'high-priority' }],
        preferences: { placeOfCare: 'Home' },
      },
    });
    await stack.drained(90_000);
    const [followUp] = s1.followUps;
    await kap.completeFollowUp({
      path: { id: followUp?.id as string },
      body: { completedAt: new Date().toISOString(), note: 'Integration went well' },
    });
    await stack.drained(90_000);
    await kap.stopCourse({ path: { id: courseId }, body: { reason: 'completed' } });
    await stack.drained(90_000);

    const notes = await localNotes(kap, courseId);
    expect(notes).toHaveLength(5);
    const patientId = notes[0]?.subject?.reference?.split('/')[1] as string;

    // A rebuild of an unchanged course writes nothing.
    await enqueueWork(stack.tenantDb, WORK.courseNote, { courseId }, { patientId });
    await stack.drained(60_000);
    expect(await localNotes(kap, courseId)).toHaveLength(5);

    // The chain: each version replaces the one before, which is superseded; the last is current.
    notes.forEach((note, i) => {
      expect(note.status).toBe(i === notes.length - 1 ? 'current' : 'superseded');
      expect(note.docStatus).toBe('final');
      expect(note.type?.coding?.[0]).toMatchObject({ system: 'http://loinc.org', code: '11506-3' });
      expect(note.category?.[0]?.coding?.[0]).toMatchObject({
        system: 'http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category',
        code: 'clinical-note',
      });
      expect(note.relatesTo).toEqual(
        i === 0 ? undefined : [{ code: 'replaces', target: { reference: `DocumentReference/${notes[i - 1]?.id}` } }],
      );
    });
    const current = notes[notes.length - 1] as DocumentReference;
    expect(current.context?.period?.end).toBeDefined();

    // Our FHIR face finds every version by patient.
    const search = (await kap.searchFhirResources({
      path: { type: 'DocumentReference' },
      query: { patient: patientId },
    })) as unknown as Bundle;
    expect((search.entry ?? []).map((e) => e.resource?.id).sort()).toEqual(notes.map((n) => n.id).sort());

    // The EHR holds each version once, the same chain by its own ids, and what we hold.
    const audit = await auditEhr(stack.db, stack.sandbox.url);
    expect(audit.duplicates).toEqual([]);
    expect(audit.missing).toEqual([]);
    expect(audit.ehr.DocumentReference).toBe(5);
    const ehrNotes = (await ehrAll(stack.sandbox.url, 'DocumentReference')) as DocumentReference[];
    const byOurId = new Map(ehrNotes.map((n) => [n.identifier?.[0]?.value, n]));
    const inEhr = notes.map((n) => byOurId.get(n.id) as DocumentReference);
    inEhr.forEach((n, i) => {
      expect(n.status).toBe(i === inEhr.length - 1 ? 'current' : 'superseded');
      if (i > 0) expect(n.relatesTo?.[0]?.target.reference).toBe(`DocumentReference/${inEhr[i - 1]?.id}`);
    });
    const ehrCurrent = inEhr[inEhr.length - 1] as DocumentReference;
    // Created once and never written again; each older version once more, to supersede it.
    const history = async (id: string | undefined) =>
      ((await (await fetch(`${stack.sandbox.url}/DocumentReference/${id}/_history`)).json()) as Bundle).entry?.length;
    expect(await history(ehrCurrent.id)).toBe(1);
    expect(await history(inEhr[0]?.id)).toBe(2);

    // The HTML escapes what was typed; the PDF, read back with pdf.js, has the patient and the PHQ-9 table.
    const html = attachment(ehrCurrent, 'text/html').toString('utf8');
    expect(html).toContain('Remain at home &lt;until&gt; the end &amp; beyond');
    expect(html).toContain('Hélène O&#39;Brien');
    const text = (await pdfText(attachment(ehrCurrent, 'application/pdf'))).join('\n').replace(/\s+/g, ' ');
    expect(text).toContain(FULL_NAME);
    expect(text).toContain('PHQ-9 and GAD-7');
    expect(text).toMatch(/Baseline \(screening\) .*10 \(Moderate\) baseline 8 \(Mild\) baseline/);
    expect(text).toMatch(/After session 1 .*5 \(Mild\) -5 3 \(Minimal\) -5/);
    expect(text).toMatch(/After session 2 .*2 \(Minimal\) -8 1 \(Minimal\) -7/);
    expect(text).toContain('Stopped');
    expect(text).toContain('Integration went well');
    // Each page names the patient, so a printed page on its own still says whose it is.
    expect(text).toMatch(new RegExp(`${FULL_NAME}, SYN-[^ ]+ \u2014 course note as of .* page 1 of \\d+`));
  });
});
