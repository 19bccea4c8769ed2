import * as vscode from 'vscode';
import type { Logger } from '../core/util/logger';

/**
 * Backs core's Logger with the "Grove" LogOutputChannel (users pick the level in the channel's menu). With
 * GROVE_LOG_TO_CONSOLE=1 (the test tiers) every line is echoed to the extension host's console as well.
 */
export class ChannelLogger implements Logger {
  private readonly echo = process.env.GROVE_LOG_TO_CONSOLE === '1';

  constructor(readonly channel: vscode.LogOutputChannel) {}
  trace(message: string): void { this.channel.trace(message); if (this.echo) console.log(`[grove trace] ${message}`); }
  info(message: string): void { this.channel.info(message); if (this.echo) console.log(`[grove info] ${message}`); }
  warn(message: string): void { this.channel.warn(message); if (this.echo) console.log(`[grove warn] ${message}`); }
  error(message: string | Error): void {
    this.channel.error(message);
    if (this.echo) console.log(`[grove error] ${message instanceof Error ? message.stack ?? message.message : message}`);
  }
}
