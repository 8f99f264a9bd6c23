import { CR, FS, MllpFramer, VT, mllpFrame } from './mllp-framer';

const msg = (id: string): Buffer => Buffer.from(`MSH|^~\\&|A|B|C|D|20260101||ADT^A08|${id}|P|2.5.1\rPID|1||X^^^H\r`);
const frames = (events: ReturnType<MllpFramer['push']>): string[] =>
  events.map((e) => (e.kind === 'frame' ? `frame:${e.bytes.toString()}` : e.kind));

describe('MllpFramer', () => {
  it('splits several frames that arrive in one read', () => {
    const framer = new MllpFramer(1024);
    const out = framer.push(Buffer.concat([mllpFrame(msg('1')), mllpFrame(msg('2')), mllpFrame(msg('3'))]));
    expect(frames(out)).toEqual([`frame:${msg('1')}`, `frame:${msg('2')}`, `frame:${msg('3')}`]);
  });

  it('joins a frame that arrives one byte at a time, whatever the split', () => {
    const framer = new MllpFramer(1024);
    const bytes = Buffer.concat([mllpFrame(msg('1')), mllpFrame(msg('2'))]);
    const out = [...bytes].flatMap((b) => framer.push(Buffer.from([b])));
    expect(frames(out)).toEqual([`frame:${msg('1')}`, `frame:${msg('2')}`]);
    expect(framer.end()).toEqual([]);
  });

  it('accepts a bare FS end and ignores blank bytes between frames', () => {
    const framer = new MllpFramer(1024);
    const out = framer.push(Buffer.concat([Buffer.from([VT]), msg('1'), Buffer.from([FS, 0x0a, CR]), mllpFrame(msg('2'))]));
    expect(frames(out)).toEqual([`frame:${msg('1')}`, `frame:${msg('2')}`]);
  });

  it('reports bytes outside a frame and a frame cut short, and keeps going', () => {
    const framer = new MllpFramer(1024);
    const out = framer.push(Buffer.concat([Buffer.from('hello'), Buffer.from([VT]), Buffer.from('half'), mllpFrame(msg('1'))]));
    expect(frames(out)).toEqual(['garbage', 'garbage', `frame:${msg('1')}`]);
  });

  it('reports an oversize frame with its head and size, then frames normally', () => {
    const framer = new MllpFramer(100);
    const big = Buffer.concat([msg('big'), Buffer.alloc(500, 0x41)]);
    const out = framer.push(Buffer.concat([mllpFrame(big), mllpFrame(msg('2'))]));
    expect(out[0]).toMatchObject({ kind: 'oversize', size: big.length });
    expect(out[0]?.kind === 'oversize' && out[0].head.toString().startsWith('MSH|')).toBe(true);
    expect(frames(out.slice(1))).toEqual([`frame:${msg('2')}`]);
  });
});
