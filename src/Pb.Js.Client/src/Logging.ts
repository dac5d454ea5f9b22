/** How much the client logs, as SignalR's `LogLevel`: each level includes the ones above it. */
export enum LogLevel {
  /** Every message sent and received (their content only with `logMessageContent`). */
  Trace = 0,
  Debug = 1,
  Information = 2,
  Warning = 3,
  Error = 4,
  Critical = 5,
  /** Nothing. */
  None = 6,
}

/** Where the client's log lines go (SignalR's `ILogger`): one method, a level and a message. */
export interface ILogger {
  log(level: LogLevel, message: string): void;
}

/** Writes lines at or above `minimumLevel` to the console (`console.error` for errors, `console.warn`, ...). */
export class ConsoleLogger implements ILogger {
  constructor(readonly minimumLevel: LogLevel) {}

  log(level: LogLevel, message: string): void {
    if (level < this.minimumLevel || level === LogLevel.None) {
      return;
    }
    const line = `[${new Date().toISOString()}] ${LogLevel[level]}: ${message}`;
    if (level >= LogLevel.Error) {
      console.error(line);
    } else if (level === LogLevel.Warning) {
      console.warn(line);
    } else if (level === LogLevel.Information) {
      console.info(line);
    } else {
      console.log(line);
    }
  }
}

/** Logs nothing (the default). */
export const NullLogger: ILogger = { log: () => {} };

/** A logger from what the options hold: an `ILogger` as it is, a level as a {@link ConsoleLogger}, nothing as none. */
export function toLogger(logger: ILogger | LogLevel | undefined): ILogger {
  if (logger === undefined) {
    return NullLogger;
  }
  return typeof logger === "number" ? new ConsoleLogger(logger) : logger;
}
