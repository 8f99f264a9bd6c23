import { Worker } from 'node:worker_threads';
import { courseNotePdf, type CourseNoteModel } from '@kap/fhir';

/**
 * The course note's PDF, rendered on a thread of its own. pdfkit lays the document out in
 * one synchronous stretch (15 ms on a quiet machine, several times that on a busy one), and
 * on the worker's event loop every other job waited it out: a course stop's timer removal
 * waited for the note the same stop asked for. The thread runs the same function on the same
 * model (plain data), so the bytes are the same; where it cannot run (the built package
 * missing, the thread dead), the note is rendered here as before.
 */
export async function renderCourseNotePdf(model: CourseNoteModel, options: { readonly timeZone: string }): Promise<Buffer> {
  const thread = pdfThread();
  if (thread) {
    const answer = await thread.render(model, options);
    if ('pdf' in answer) return Buffer.from(answer.pdf.buffer, answer.pdf.byteOffset, answer.pdf.byteLength);
  }
  return courseNotePdf(model, options);
}

type Answer = { readonly pdf: Uint8Array } | { readonly error: string };

interface PdfThread {
  render(model: CourseNoteModel, options: { readonly timeZone: string }): Promise<Answer>;
  close(): Promise<void>;
}

/** An idle thread goes after this long; the next note starts another. */
const IDLE_MS = 5000;

/** Ends the thread now (the worker's shutdown); a render still waiting finishes in the main thread. */
export async function closePdfThread(): Promise<void> {
  await current?.close();
}

// Loads the built module through this file's own resolution of @kap/fhir, as the worker's main thread does in production.
const SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { courseNotePdf } = require('node:module').createRequire(workerData.from)('@kap/fhir/dist/course-note-pdf.js');
parentPort.on('message', (m) => {
  courseNotePdf(m.model, m.options).then(
    (pdf) => parentPort.postMessage({ id: m.id, pdf }),
    (err) => parentPort.postMessage({ id: m.id, error: String((err && err.stack) || err) }),
  );
});
`;

/** Where renders go now: for tests, and for an operator wondering why notes render in the main thread. */
export function pdfThreadState(): 'not started' | 'running' | 'unavailable' {
  return current ? 'running' : unavailable ? 'unavailable' : 'not started';
}

let current: PdfThread | undefined;
/** Set once a thread failed before rendering anything: it will not start on this install. */
let unavailable = false;

function pdfThread(): PdfThread | undefined {
  if (current) return current;
  if (unavailable) return undefined;
  const pending = new Map<number, (answer: Answer) => void>();
  let nextId = 0;
  let rendered = false;
  let closed = false;
  let idle: NodeJS.Timeout | undefined;
  let worker: Worker;
  try {
    worker = new Worker(SOURCE, { eval: true, workerData: { from: __filename } });
  } catch {
    unavailable = true;
    return undefined;
  }
  // Never what keeps a process alive; a job awaiting a render holds its own handles.
  worker.unref();
  const fail = (why: string): void => {
    if (!rendered && !closed) unavailable = true;
    clearTimeout(idle);
    for (const done of pending.values()) done({ error: why });
    pending.clear();
    if (current === thread) current = undefined;
  };
  worker.on('message', (m: { id: number } & Answer) => {
    if ('pdf' in m) rendered = true;
    pending.get(m.id)?.(m);
    pending.delete(m.id);
    if (pending.size === 0) idle = setTimeout(() => void thread.close(), IDLE_MS).unref();
  });
  worker.on('error', (err) => fail(err.message));
  worker.on('exit', (code) => fail(`the PDF thread exited (${code})`));
  const thread: PdfThread = {
    render: (model, options) =>
      new Promise<Answer>((resolve) => {
        clearTimeout(idle);
        const id = ++nextId;
        pending.set(id, resolve);
        worker.postMessage({ id, model, options });
      }),
    async close() {
      closed = true;
      if (current === thread) current = undefined;
      await worker.terminate();
    },
  };
  current = thread;
  return thread;
}
