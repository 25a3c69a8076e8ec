/**
 * Flow control over the mysql2 connection the binlog streams on. Three parties may hold the stream:
 * the handler (pause()/resume(), back-pressure), the source itself while it reads a table's
 * metadata, and zongji while it reads its own; the socket reads only when none of them holds it.
 * The hold count and the handler's pause live here, not in the connection, so they outlast a
 * reconnect: a new connection starts paused when the handler still is.
 */
import type { ZConnection } from './zongji-internals.ts';

export class FlowControl {
  /** The connection's own pause()/resume(), under the wrappers attach() installs; undefined between connections. */
  realPause: (() => void) | undefined;
  realResume: (() => void) | undefined;
  /**
   * True while a packet is being handled. mysql2 replays queued packets synchronously inside
   * resume(), so the stream is never resumed from inside a packet: the resume waits for the next turn.
   */
  inPacket = false;
  private userPaused = false;
  private holds = 0;
  private connectionPaused = false;
  private resumeScheduled = false;

  /** Takes over the pause()/resume() of a new binlog connection (zongji's calls become holds). */
  attach(connection: ZConnection): void {
    this.realPause = connection.pause.bind(connection);
    this.realResume = connection.resume.bind(connection);
    connection.pause = () => this.hold();
    connection.resume = () => {
      this.holds = Math.max(0, this.holds - 1);
      this.apply();
    };
    this.apply();
  }

  /** The connection is gone: its holds go with it; the handler's pause stays. */
  detach(): void {
    this.realPause = undefined;
    this.realResume = undefined;
    this.connectionPaused = false;
    this.holds = 0;
  }

  /** Whether the stream is paused, or there is no connection: silence is expected then. */
  get quiet(): boolean {
    return this.connectionPaused || !this.realPause;
  }

  /** The handler's pause (back-pressure): effective at once. */
  pause(): void {
    this.userPaused = true;
    this.apply();
  }

  resume(): void {
    this.userPaused = false;
    if (this.inPacket) {
      if (!this.resumeScheduled) {
        this.resumeScheduled = true;
        setImmediate(() => {
          this.resumeScheduled = false;
          this.apply();
        });
      }
      return;
    }
    this.apply();
  }

  /** Holds the stream until release() (the source reading metadata). */
  hold(): void {
    this.holds += 1;
    this.apply();
  }

  release(): void {
    this.holds = Math.max(0, this.holds - 1);
    if (this.inPacket) {
      setImmediate(() => this.apply());
      return;
    }
    this.apply();
  }

  private apply(): void {
    if (!this.realPause || !this.realResume) return;
    const hold = this.holds > 0 || this.userPaused;
    if (hold && !this.connectionPaused) {
      this.connectionPaused = true;
      this.realPause();
    } else if (!hold && this.connectionPaused) {
      this.connectionPaused = false;
      this.realResume();
    }
  }
}
