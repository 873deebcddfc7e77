// D-Bus error names used by stas, and the conversion of any thrown value into a D-Bus error reply.
import dbus from 'dbus-next';

export const DBUS_ERR_INVALID_ARGS = 'org.freedesktop.DBus.Error.InvalidArgs';
export const DBUS_ERR_FAILED = 'org.freedesktop.DBus.Error.Failed';
export const DBUS_ERR_TIMEOUT = 'org.freedesktop.DBus.Error.Timeout';
export const DBUS_ERR_SERVICE_UNKNOWN = 'org.freedesktop.DBus.Error.ServiceUnknown';
export const DBUS_ERR_NAME_HAS_NO_OWNER = 'org.freedesktop.DBus.Error.NameHasNoOwner';
export const DBUS_ERR_ACCESS_DENIED = 'org.freedesktop.DBus.Error.AccessDenied';
export const DBUS_ERR_NO_REPLY = 'org.freedesktop.DBus.Error.NoReply';

export type DBusError = InstanceType<typeof dbus.DBusError>;

export function dbusError(name: string, text: string): DBusError {
  return new dbus.DBusError(name, text);
}

export function isDBusError(e: unknown): e is DBusError {
  return e instanceof Error && e.name === 'DBusError' && typeof (e as DBusError).type === 'string';
}

/** Errors that carry their own D-Bus error name (e.g. storage errors) implement this. */
export interface NamedError extends Error {
  readonly dbusName: string;
}

function isNamedError(e: unknown): e is NamedError {
  return e instanceof Error && typeof (e as Partial<NamedError>).dbusName === 'string';
}

/** Maps anything thrown by an implementation to a DBusError: no stack traces reach clients. */
export function toDBusError(e: unknown): DBusError {
  if (isDBusError(e)) return e;
  if (isNamedError(e)) return dbusError(e.dbusName, e.message);
  const text = e instanceof Error ? e.message : String(e);
  return dbusError(DBUS_ERR_FAILED, text);
}
