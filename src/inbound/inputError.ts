/**
 * A request field that does not fit the current state (unknown application or queue, duplicate secret id…),
 * found by a command inside its transaction. Routes turn it into a 400 naming `field`.
 */
export class IngressInputError extends Error {
  override readonly name = "IngressInputError";
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}
