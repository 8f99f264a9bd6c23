import path from 'node:path';
import ts from 'typescript';

/**
 * The handle types hold at compile time: `deployment-handle-refused.fail.ts` holds the mistakes
 * they refuse (the deployment's handle where a tenant's is asked for, a tenant id beside a
 * handle, a hand-made tenant handle), each line marked with the error it must raise. The
 * compiler must report exactly those, so the file neither compiles nor fails for another reason.
 */
const ROOT = path.resolve(__dirname, '../..');
const FAIL_FILE = path.join(__dirname, 'deployment-handle-refused.fail.ts');

function compilerOptions(): ts.CompilerOptions {
  const parsed = ts.getParsedCommandLineOfConfigFile(
    path.join(ROOT, 'tsconfig.test.json'),
    {},
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined },
  );
  if (!parsed) throw new Error('tsconfig.test.json does not parse');
  return { ...parsed.options, noEmit: true, incremental: false, tsBuildInfoFile: undefined };
}

describe('the handle types (compile time)', () => {
  it('refuse, with the expected errors and no others, every mistake the fail file makes', () => {
    const program = ts.createProgram([FAIL_FILE], compilerOptions());
    const source = program.getSourceFile(FAIL_FILE);
    if (!source) throw new Error('the fail file was not read');
    const reported = [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)].map((d) => {
      const line = d.start === undefined ? -1 : source.getLineAndCharacterOfPosition(d.start).line + 1;
      return `${line}: TS${d.code}`;
    });
    const expected = source.text.split('\n').flatMap((text, i) => {
      const marker = /\/\/ error (TS\d+)$/.exec(text.trimEnd());
      return marker ? [`${i + 1}: ${marker[1]}`] : [];
    });
    expect(expected.length).toBeGreaterThanOrEqual(8);
    expect(reported.sort()).toEqual(expected.sort());
  });
});
