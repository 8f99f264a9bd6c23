/**
 * MLLP framing (HL7 v2 Transport Specification, MLLP release 2): each message travels as
 * `<VT> message <FS><CR>`. TCP keeps no message boundaries, so one read may hold several
 * frames, or a piece of one; this splitter handles both, which the HL7 library's own
 * connection (4.5.2) does not: it merges frames that share a read.
 */

export const VT = 0x0b;
export const FS = 0x1c;
export const CR = 0x0d;

export type MllpEvent =
  /** A complete frame's content, without the framing bytes. */
  | { readonly kind: 'frame'; readonly bytes: Buffer }
  /**
   * A frame larger than the limit, reported as soon as the limit is passed (its end may not
   * have come yet: `complete` false): its first bytes (for MSH-10 and an operator); the rest
   * of the frame is discarded, never buffered.
   */
  | { readonly kind: 'oversize'; readonly head: Buffer; readonly size: number; readonly complete: boolean }
  /** Bytes outside any frame, or a frame cut short by the next start byte. */
  | { readonly kind: 'garbage'; readonly bytes: Buffer };

/** How much of a discarded (oversize or stray) message is kept for the operator. */
const KEPT_BYTES = 64 * 1024;

const isBlank = (bytes: Buffer): boolean => bytes.every((b) => b === CR || b === 0x0a || b === 0x20 || b === 0x09);

/** A per-connection MLLP splitter: push what the socket gave, get the complete frames so far. */
export class MllpFramer {
  private inFrame = false;
  private parts: Buffer[] = [];
  private size = 0;
  private oversize = false;
  /** The previous read ended on FS: the next byte tells whether that closed the frame. */
  private pendingFs = false;
  /** The current frame's oversize event went out already: its end only resets the state. */
  private oversizeReported = false;

  constructor(private readonly maxBytes: number) {}

  push(chunk: Buffer): MllpEvent[] {
    const events: MllpEvent[] = [];
    let i = 0;
    if (this.pendingFs) {
      this.pendingFs = false;
      // FS CR closes the frame; a bare FS followed by anything is taken as the end too (lenient senders).
      this.closeFrame(events);
      if (chunk[0] === CR) i = 1;
    }
    while (i < chunk.length) {
      if (!this.inFrame) {
        const start = chunk.indexOf(VT, i);
        const stray = chunk.subarray(i, start === -1 ? chunk.length : start);
        this.append(stray);
        if (start === -1) {
          // A lone FS CR outside a frame ends a message sent without its start byte.
          if (stray.includes(FS)) this.flushStray(events);
          break;
        }
        this.flushStray(events);
        this.inFrame = true;
        i = start + 1;
        continue;
      }
      const end = indexOfEither(chunk, FS, VT, i);
      if (end === -1) {
        this.append(chunk.subarray(i));
        this.reportOpenOversize(events);
        break;
      }
      this.append(chunk.subarray(i, end));
      if (chunk[end] === VT) {
        // A new start byte inside a frame: the sender gave up on the one before.
        events.push({ kind: 'garbage', bytes: this.take() });
        i = end + 1;
        continue;
      }
      if (end + 1 >= chunk.length) {
        this.pendingFs = true;
        this.reportOpenOversize(events);
        break;
      }
      this.closeFrame(events);
      i = chunk[end + 1] === CR ? end + 2 : end + 1;
    }
    return events;
  }

  /** What is buffered when the connection closes: an unfinished frame, reported as garbage. */
  end(): MllpEvent[] {
    if (this.pendingFs) {
      this.pendingFs = false;
      const events: MllpEvent[] = [];
      this.closeFrame(events);
      return events;
    }
    const reported = this.oversizeReported;
    this.oversizeReported = false;
    const rest = this.take();
    if (reported) return [];
    return rest.length > 0 && !isBlank(rest) ? [{ kind: 'garbage', bytes: rest }] : [];
  }

  private append(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.size += bytes.length;
    if (this.oversize) {
      const kept = this.parts.reduce((n, p) => n + p.length, 0);
      if (kept < KEPT_BYTES) this.parts.push(bytes.subarray(0, KEPT_BYTES - kept));
      return;
    }
    this.parts.push(bytes);
    if (this.size > this.maxBytes) {
      this.oversize = true;
      const all = Buffer.concat(this.parts);
      this.parts = [Buffer.from(all.subarray(0, KEPT_BYTES))];
    }
  }

  private closeFrame(events: MllpEvent[]): void {
    const size = this.size;
    const wasOversize = this.oversize;
    const reported = this.oversizeReported;
    const bytes = this.take();
    this.inFrame = false;
    this.oversizeReported = false;
    if (reported) return;
    events.push(wasOversize ? { kind: 'oversize', head: bytes, size, complete: true } : { kind: 'frame', bytes });
  }

  /**
   * A frame past the limit whose end has not come: reported now, so the sender is answered
   * (and can be disconnected) while it is still streaming; waiting for its end could be forever.
   */
  private reportOpenOversize(events: MllpEvent[]): void {
    if (!this.inFrame || !this.oversize || this.oversizeReported) return;
    this.oversizeReported = true;
    events.push({ kind: 'oversize', head: Buffer.concat(this.parts), size: this.size, complete: false });
  }

  private flushStray(events: MllpEvent[]): void {
    const bytes = this.take();
    if (bytes.length > 0 && !isBlank(bytes)) events.push({ kind: 'garbage', bytes });
  }

  private take(): Buffer {
    const bytes = this.parts.length === 1 ? (this.parts[0] as Buffer) : Buffer.concat(this.parts);
    // Copied, so a kept frame never pins the socket's whole read buffer.
    const out = Buffer.from(bytes);
    this.parts = [];
    this.size = 0;
    this.oversize = false;
    return out;
  }
}

function indexOfEither(buf: Buffer, a: number, b: number, from: number): number {
  const x = buf.indexOf(a, from);
  const y = buf.indexOf(b, from);
  if (x === -1) return y;
  if (y === -1) return x;
  return Math.min(x, y);
}

/** Wraps a message's bytes in an MLLP frame. */
export function mllpFrame(bytes: Buffer): Buffer {
  return Buffer.concat([Buffer.from([VT]), bytes, Buffer.from([FS, CR])]);
}
