import { readAdt } from './adt';
import { buildAck } from './ack';
import { decodeHl7, encodeHl7 } from './hl7-text';
import iconv from 'iconv-lite';

const settings = { assigningAuthorities: new Map([['HOSP', 'urn:oid:1.2.3.4']]), dischargeStopCodes: new Set(['50', '51']) };
const parse = (text: string, charset = 'utf8') => decodeHl7(iconv.encode(text, charset));
const read = (text: string) => readAdt(parse(text).message, settings);

describe('readAdt', () => {
  it('reads a 2.5.1 A03 with PV1-36 20 as a death, with PID-3 repetitions and Z-segments', () => {
    const r = read(
      [
        'MSH|^~\\&|EPIC|GENHOSP|KAP|PALL|20260301120000+0100||ADT^A03^ADT_A03|MSG0001|P|2.5.1|||AL|NE||UNICODE UTF-8',
        'EVN|A03|20260301120000+0100',
        'PID|1||SSN123^^^SSA^SS~MRN-77^^^HOSP^MR~99^^^&2.16.840.1.113883.19.5&ISO^PI||Doe^Jane^Q||19480212|F',
        `PV1|1|I${'|'.repeat(34)}20`,
        'ZPV|custom|stuff',
      ].join('\r'),
    );
    expect(r.outcome).toBe('accepted');
    if (r.outcome !== 'accepted') return;
    expect(r.header).toMatchObject({ controlId: 'MSG0001', sender: 'EPIC|GENHOSP', messageCode: 'ADT', triggerEvent: 'A03' });
    expect(r.events[0]).toMatchObject({
      courseEnd: 'deceased',
      identifiers: [
        { system: 'urn:oid:1.2.3.4', value: 'MRN-77' },
        { system: 'urn:oid:2.16.840.1.113883.19.5', value: '99' },
      ],
    });
  });

  it('reads a 2.3 A08 with LF separators, escapes and Latin-1 (MSH-18 8859/1) into demographics', () => {
    const text =
      'MSH|^~\\&|LAB|H|KAP|P|20260301||ADT^A08|X9|P|2.3||||||8859/1\nPID|1||MRN-1^^^HOSP||M\\S\\ller^Ren\xe9e^^^^^L~Mueller^Renee^^^^^A||19501231|F\n';
    const r = readAdt(parse(text, 'latin1').message, settings);
    expect(r.outcome).toBe('accepted');
    if (r.outcome !== 'accepted') return;
    expect(r.events[0]?.demographics).toEqual({
      name: [
        { use: 'official', family: 'M^ller', given: ['Renée'] },
        { use: 'usual', family: 'Mueller', given: ['Renee'] },
      ],
      birthDate: '1950-12-31',
      gender: 'female',
    });
    expect(r.events[0]?.courseEnd).toBeUndefined();
  });

  it('reads PID-30 Y or PID-29 as a death on any handled event, and a stop disposition as discharged', () => {
    const pid = (extra: string) => `PID|1||M1^^^HOSP${'|'.repeat(26)}${extra}`;
    const a08 = read(`MSH|^~\\&|A|B|C|D|2026||ADT^A08|1|P|2.4\r${pid('|Y')}`);
    expect(a08.outcome === 'accepted' && a08.events[0]?.courseEnd).toBe('deceased');
    const a01 = read(`MSH|^~\\&|A|B|C|D|2026||ADT^A01|1|P|2.4\r${pid('202603010830+0100')}`);
    expect(a01.outcome === 'accepted' && a01.events[0]).toMatchObject({ courseEnd: 'deceased', deceasedAt: '2026-03-01T08:30:00+01:00' });
    const hospice = read(`MSH|^~\\&|A|B|C|D|2026||ADT^A03|1|P|2.5\rPID|1||M1^^^HOSP\rPV1|1|I${'|'.repeat(34)}51`);
    expect(hospice.outcome === 'accepted' && hospice.events[0]?.courseEnd).toBe('discharged');
    const home = read(`MSH|^~\\&|A|B|C|D|2026||ADT^A03|1|P|2.5\rPID|1||M1^^^HOSP\rPV1|1|I${'|'.repeat(34)}01`);
    expect(home.outcome === 'accepted' && home.events[0]?.courseEnd).toBeUndefined();
  });

  it('takes an assigning authority that is itself an OID or a URI as the system', () => {
    const r = read(
      'MSH|^~\\&|A|B|C|D|2026||ADT^A08|1|P|2.5\rPID|1||A1^^^2.16.840.1.113883.19.5~B2^^^urn:oid:1.2.3~C3^^^https://mrn.example/ids~D4^^^LOCALONLY',
    );
    expect(r.outcome === 'accepted' && r.events[0]?.identifiers).toEqual([
      { system: 'urn:oid:2.16.840.1.113883.19.5', value: 'A1' },
      { system: 'urn:oid:1.2.3', value: 'B2' },
      { system: 'https://mrn.example/ids', value: 'C3' },
    ]);
  });

  it('reads an A40 merge: PID-3 survives, MRG-1 is merged in', () => {
    const r = read('MSH|^~\\&|A|B|C|D|2026||ADT^A40^ADT_A39|7|P|2.5\rEVN|A40|2026\rPID|1||NEW-1^^^HOSP\rMRG|OLD-1^^^HOSP');
    expect(r.outcome === 'accepted' && r.events).toEqual([
      { identifiers: [{ system: 'urn:oid:1.2.3.4', value: 'NEW-1' }], mergedIdentifiers: [{ system: 'urn:oid:1.2.3.4', value: 'OLD-1' }] },
    ]);
  });

  it('ignores other messages and events, and answers problems with AE or AR', () => {
    expect(read('MSH|^~\\&|A|B|C|D|2026||ORU^R01|1|P|2.5\rPID|1||X^^^HOSP').outcome).toBe('ignored');
    expect(read('MSH|^~\\&|A|B|C|D|2026||ADT^A02|1|P|2.5\rPID|1||X^^^HOSP').outcome).toBe('ignored');
    expect(read('MSH|^~\\&|A|B|C|D|2026||ADT^A03|1|P|2.5\rPID|1||X^^^OTHER')).toMatchObject({
      outcome: 'accepted',
      events: [{ identifiers: [] }],
      warning: { code: '103' },
    });
    expect(read('MSH|^~\\&|A|B|C|D|2026||ADT^A03|1|P|2.5\rPID|1|X')).toMatchObject({
      outcome: 'rejected',
      ack: 'AE',
      problem: { code: '101', field: 3 },
    });
    expect(read('MSH|^~\\&|A|B|C|D|2026||ADT^A03||P|2.5\rPID|1||X^^^HOSP')).toMatchObject({
      outcome: 'rejected',
      ack: 'AR',
      problem: { code: '101', field: 10 },
    });
    expect(() => parse('hello world')).toThrow(/MSH/);
    expect(() => parse('MSH|^~\\&|A|B|C|D|2026||ADT^A03|1|P|2.5||||||KLINGON')).toThrow(/Character set/);
  });
});

describe('buildAck', () => {
  it('echoes MSH-10 in MSA-2, swaps sender and receiver, and adds an ERR for the version', () => {
    const { msh } = parse('MSH|^~\\&|EPIC|GEN|KAP|PALL|2026||ADT^A03^ADT_A03|C-1|P|2.5.1||||||UNICODE UTF-8\rPID|1');
    const ack = buildAck({
      msh,
      code: 'AE',
      problem: { code: '103', text: 'PID-3 not mapped', segment: 'PID', field: 3 },
      now: new Date(0),
      ackControlId: 'K1',
    });
    const lines = ack.split('\r');
    expect(lines[0]).toBe('MSH|^~\\&|KAP|PALL|EPIC|GEN|19700101000000+0000||ACK^A03^ACK|K1|P|2.5.1||||||UNICODE UTF-8');
    expect(lines[1]).toBe('MSA|AE|C-1|PID-3 not mapped');
    expect(lines[2]).toBe('ERR||PID^1^3|103^Table value not found^HL70357|E||||PID-3 not mapped');
    const old = buildAck({
      msh: parse('MSH|^~\\&|A|B|C|D|2026||ADT^A03|9|P|2.3').msh,
      code: 'AR',
      problem: { code: '101', text: 'x', segment: 'PID', field: 3 },
      now: new Date(0),
      ackControlId: 'K2',
    });
    expect(old.split('\r')[0]).toBe('MSH|^~\\&|C|D|A|B|19700101000000+0000||ACK^A03^ACK|K2|P|2.3');
    expect(old.split('\r')[2]).toBe('ERR|PID^1^3^101&Required field missing&HL70357');
    expect(encodeHl7('é', 'latin1')).toEqual(Buffer.from([0xe9]));
  });
});
