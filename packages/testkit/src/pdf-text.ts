import { execFile } from 'node:child_process';

/**
 * The text of a PDF, page by page, read with pdf.js (pdfjs-dist's legacy build, made for
 * Node). pdf.js is an ES module, which jest's CommonJS runtime cannot load, so it runs in
 * a child Node process that reads the PDF on stdin and writes the text on stdout.
 */
const SCRIPT = `
import { getDocument } from 'pdfjs-dist/legacy/build/pdf.mjs';
const chunks = [];
for await (const c of process.stdin) chunks.push(c);
const doc = await getDocument({ data: new Uint8Array(Buffer.concat(chunks)), useSystemFonts: false, isEvalSupported: false, verbosity: 0 }).promise;
const pages = [];
for (let i = 1; i <= doc.numPages; i++) {
  const content = await (await doc.getPage(i)).getTextContent();
  pages.push(content.items.map((item) => ('str' in item ? item.str + (item.hasEOL ? '\\n' : ' ') : '')).join(''));
}
process.stdout.write('\\n' + JSON.stringify(pages));
`;

export function pdfText(pdf: Uint8Array): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      ['--input-type=module', '-e', SCRIPT],
      { cwd: __dirname, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`pdf.js could not read the PDF: ${stderr || err.message}`));
        try {
          // pdf.js may log warnings on stdout before the result, which is the last line.
          resolve(JSON.parse(stdout.slice(stdout.lastIndexOf('\n') + 1)) as string[]);
        } catch (parseErr) {
          reject(parseErr instanceof Error ? parseErr : new Error(String(parseErr)));
        }
      },
    );
    child.stdin?.end(Buffer.from(pdf));
  });
}
