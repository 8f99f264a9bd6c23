import { loadConfig } from '@kap/config';
import { Hl7Message } from '@medplum/core';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { runHl7Check } from './hl7-check';

/** An engine on a raw socket answering every message with `code`, keeping what it got. */
async function engine(code: string): Promise<{ port: number; got: string[]; close(): Promise<void> }> {
  const got: string[] = [];
  const server: Server = createServer((socket) => {
    let buffer = '';
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      const end = buffer.indexOf('\x1c\r');
      if (end === -1) return;
      const text = buffer.slice(1, end);
      buffer = '';
      got.push(text);
      const id = Hl7Message.parse(text).getSegment('MSH')?.getField(10).toString();
      socket.write(
        `\x0bMSH|^~\\&|ENGINE|HOSP|KAP|KAP|20260301100000||ACK^R01^ACK|A1|T|2.5.1\rMSA|${code}|${id}|${code === 'AA' ? '' : 'Unknown facility'}\x1c\r`,
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, got, close: () => new Promise((r) => server.close(() => r())) };
}

describe('npm run hl7:check', () => {
  it('sends a test-tagged ORU^R01 of a synthetic patient and reports the ACK', async () => {
    const e = await engine('AA');
    const lines: string[] = [];
    const config = loadConfig({ HL7_OUT_HOST: '127.0.0.1', HL7_OUT_PORT: String(e.port), HL7_ASSIGNING_AUTHORITIES: 'HOSP=urn:oid:1.2.3' });
    expect(await runHl7Check(config, { out: (l) => lines.push(l) })).toBe(0);
    await e.close();
    const msg = Hl7Message.parse(e.got[0] ?? '');
    expect(msg.getSegment('MSH')?.getField(11).toString()).toBe('T');
    expect(msg.getSegment('PID')?.getComponent(3, 4)).toBe('HOSP');
    expect(msg.getSegment('PID')?.getComponent(5, 1)).toBe('Preflight');
    expect(lines.join('\n')).toMatch(/ok {4}ACK AA/);
  });

  it("fails on AE with the engine's text, and without a destination", async () => {
    const e = await engine('AE');
    const lines: string[] = [];
    expect(await runHl7Check(loadConfig({ HL7_OUT_HOST: '127.0.0.1', HL7_OUT_PORT: String(e.port) }), { out: (l) => lines.push(l) })).toBe(
      1,
    );
    await e.close();
    expect(lines.join('\n')).toMatch(/FAIL {2}ACK AE: Unknown facility/);
    expect(await runHl7Check(loadConfig({}), { out: (l) => lines.push(l) })).toBe(2);
  });
});
