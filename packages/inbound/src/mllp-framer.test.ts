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

  it('reports a frame past the limit as soon as the limit is passed, once, without buffering the rest', () => {
    const framer = new MllpFramer(100);
    const first = framer.push(Buffer.concat([Buffer.from([VT]), msg('big'), Buffer.alloc(60, 0x41)]));
    expect(first).toHaveLength(1);
    expect(first[0]).toMatchObject({ kind: 'oversize', complete: false });
    expect(first[0]?.kind === 'oversize' && first[0].head.toString().startsWith('MSH|')).toBe(true);
    // The sender keeps streaming: nothing more is reported, and the kept head stays bounded.
    for (let i = 0; i < 50; i++) expect(framer.push(Buffer.alloc(10_000, 0x42))).toEqual([]);
    // Its end (and a next frame) come at last: the end is not reported again.
    expect(frames(framer.push(Buffer.concat([Buffer.from([FS, CR]), mllpFrame(msg('2'))])))).toEqual([`frame:${msg('2')}`]);
  });

  it('reports an oversize frame complete in one read with complete = true', () => {
    const framer = new MllpFramer(100);
    const out = framer.push(mllpFrame(Buffer.concat([msg('big'), Buffer.alloc(500, 0x41)])));
    expect(out[0]).toMatchObject({ kind: 'oversize', complete: true });
    expect(framer.end()).toEqual([]);
  });
});
