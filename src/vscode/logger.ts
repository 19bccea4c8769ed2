import * as vscode from 'vscode';
import type { Logger } from '../core/util/logger';

/**
 * Backs core's Logger with the "Grove" LogOutputChannel (users pick the level in the channel's menu). With
 * GROVE_LOG_TO_CONSOLE=1 (the test tiers) every line is echoed to the extension host's console as well.
 */
export class ChannelLogger implements Logger {
  private readonly echo = process.env.GROVE_LOG_TO_CONSOLE === '1' || process.env.GROVE_LOG_TO_CONSOLE === 'verbose';
  /** Every git call is logged at info level; echo those only when asked for everything. */
  private readonly echoGit = process.env.GROVE_LOG_TO_CONSOLE === 'verbose';

  constructor(readonly channel: vscode.LogOutputChannel) {}
  trace(message: string): void { this.channel.trace(message); if (this.echoGit) console.log(`[grove trace] ${message}`); }
  info(message: string): void {
    this.channel.info(message);
    if (this.echo && (this.echoGit || !message.startsWith('> git '))) console.log(`[grove info] ${message}`);
  }
  warn(message: string): void { this.channel.warn(message); if (this.echo) console.log(`[grove warn] ${message}`); }
  error(message: string | Error): void {
    this.channel.error(message);
    if (this.echo) console.log(`[grove error] ${message instanceof Error ? message.stack ?? message.message : message}`);
  }
}
