/**
 * `L` frames for log lines that are already valid UTF-8 bytes (the tailer's common line): the frame is encoded from
 * the bytes straight into the codec's scratch buffer, with no line string, frame tuple or UUID string per line. The
 * result is byte-identical to `encodeFrame(logFrame(groupId, serverId, service, line))` with the same UUID.
 */
import {
  encodeLogFrameFields,
  FRAME_SCRATCH,
  LOG_FRAME_UUID_OFFSET,
  MAX_FRAME_BYTES_LIMIT,
  writeLogFrameFromBytes,
} from './codec';
import { logFrame } from './frames';
import { writeNewMinionUuid } from './uuid';
import { checkOutgoingFrame } from './validate';

export class LogFrameBytesEncoder {
  /** Per service: its encoded fields (group, server, service), or null when its frames must take the string path. */
  private readonly fieldsByService = new Map<string, Buffer | null>();

  constructor(
    private readonly groupId: string,
    private readonly serverId: string,
  ) {}

  /**
   * Encodes the frame for `line[start, end)` (valid UTF-8, not empty: the caller checked) into FRAME_SCRATCH and
   * returns its length (length prefix included), or -1 when this service's frames cannot be built from bytes (a
   * group, server id or service that validation refuses): the caller then takes the string path, which reports
   * the refusal exactly as before.
   */
  encode(service: string, line: Buffer, start: number, end: number): number {
    let fields = this.fieldsByService.get(service);
    if (fields === undefined) {
      fields = this.fieldsFor(service);
      this.fieldsByService.set(service, fields);
    }
    if (fields === null) return -1;
    const length = writeLogFrameFromBytes(fields, line, start, end);
    writeNewMinionUuid(FRAME_SCRATCH, LOG_FRAME_UUID_OFFSET);
    return length;
  }

  /** The frame's fields are checked once per service, the way `validateOutgoingFrame` checks every string frame. */
  private fieldsFor(service: string): Buffer | null {
    // Any non-empty message and the largest budget: only the fields are judged here (each frame's size is the
    // spool's check).
    const probe = logFrame(this.groupId, this.serverId, service, 'x');
    if (checkOutgoingFrame(probe, { maxFrameBytes: MAX_FRAME_BYTES_LIMIT }) !== null) return null;
    return encodeLogFrameFields(this.groupId, this.serverId, service);
  }
}
