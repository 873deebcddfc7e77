// Typed errors of the schedules module. Every message names the schedule and the field at fault, so a bad
// stacd.conf section or a bad D-Bus/CLI request is reported as `schedule "nightly": keep-daily: ...`.

export class ScheduleError extends Error {
  readonly dbusName: string = 'org.nvmexpress.stac.Schedule1.Error.Invalid';
  constructor(
    readonly schedule: string,
    readonly field: string | undefined,
    detail: string,
    /** where the value came from, e.g. "/etc/stas/stacd.conf:42" */
    readonly where?: string,
  ) {
    super(`${where ? `${where}: ` : ''}schedule "${schedule}": ${field ? `${field}: ` : ''}${detail}`);
    this.name = 'ScheduleError';
  }
}

export class UnknownScheduleError extends Error {
  readonly dbusName = 'org.nvmexpress.stac.Schedule1.Error.NoSuchSchedule';
  constructor(readonly schedule: string) {
    super(`schedule "${schedule}": no such schedule`);
    this.name = 'UnknownScheduleError';
  }
}

/** A value that could not be parsed; the caller wraps it into a ScheduleError with the schedule and field. */
export class ValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ValueError';
  }
}

export class UnknownSnapshotError extends Error {
  readonly dbusName = 'org.nvmexpress.stac.Error.NotFound';
  constructor(volume: string, snapshot: string) {
    super(`snapshot "${volume}@${snapshot}": no such snapshot`);
    this.name = 'UnknownSnapshotError';
  }
}

/** A volume named in a request that does not exist (same D-Bus name as the storage layer's NotFound). */
export class UnknownVolumeError extends Error {
  readonly dbusName = 'org.nvmexpress.stac.Error.NotFound';
  constructor(readonly volume: string) {
    super(`volume "${volume}" not found`);
    this.name = 'UnknownVolumeError';
  }
}
