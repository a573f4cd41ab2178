/**
 * What a person does with the running agent besides settings: answering `ask` approvals (desktop window or the
 * headless dashboard's sessions) and sending frames from the console in the REPL syntax.
 */
import { type ConsoleSendResult } from '../../../src-shared/ipc';
import { type ApprovalSurface } from '../commands/approvals';
import { frameClassOf } from '../protocol/frames';
import { parseReplLine } from '../protocol/repl-syntax';
import { type CoreState, errorMessage } from './state';

export class CoreInteraction {
  constructor(private readonly state: CoreState) {}

  decideApproval(id: string, approve: boolean): boolean {
    return this.state.parts?.commands.decideApproval(id, approve) ?? false;
  }

  openApprovalSurface(): ApprovalSurface {
    return this.state.approvers.openSurface();
  }

  async consoleSend(line: string): Promise<ConsoleSendResult> {
    const parts = this.state.parts;
    const running = this.state.running;
    const action = parseReplLine(line, {
      groupId: running.group_id,
      serverId: running.server_id,
      maxFrameBytes: running.max_frame_bytes,
    });
    switch (action.kind) {
      case 'help':
        return {
          sent: 0,
          message:
            'log::SERVICE::MESSAGE, telemetry::NAME::VALUE…, response::UUID::OUT[::ERR], command::heartbeat, N times {…}',
        };
      case 'exit':
        return { sent: 0, message: 'nothing to leave here' };
      case 'error':
        return { sent: 0, message: action.message };
      case 'tail':
        return {
          sent: 0,
          message: 'tail:: is only available in `minion-agent repl`; add the file to tail_logs instead',
        };
      case 'frames':
        break;
    }
    if (!parts) return { sent: 0, message: 'the agent is not running' };
    let sent = 0;
    for (const frame of action.frames) {
      const cls = frameClassOf(frame);
      if (cls) {
        // L/T/R go through the spool like everything else: ordered, durable, delivered once connected.
        const result = parts.spool.append(cls, frame);
        if (!result.dropped) sent++;
      } else {
        let written = false;
        try {
          written = parts.connection.send(frame);
        } catch (err) {
          return { sent, message: `not sent: ${errorMessage(err)}` };
        }
        if (!written)
          return { sent, message: `not connected: ${frame[0]} frames are not spooled; sent ${sent}` };
        sent++;
      }
    }
    return { sent, message: `queued ${sent} frame(s)` };
  }
}
