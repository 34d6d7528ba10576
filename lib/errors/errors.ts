/** Base of portwarden's named errors: `field` names the input at fault when there is one. */
export class PortwardenError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad user input (flag, config, event, file). The message names the field and the value. */
export class InputError extends PortwardenError {
  readonly field: string;
  constructor(field: string, message: string, options?: { cause?: unknown }) {
    super(`${field}: ${message}`, options);
    this.field = field;
  }
}

/** A message safe to print or alert on: no stack, no raw object dumps. */
export function errorMessage(value: unknown): string {
  if (value instanceof Error) return value.message;
  return String(value);
}
