/**
 * The error a backend that cannot start throws.
 * @module
 */
import type { ConcreteBackendName } from "./backend_name.ts";

/** Thrown when a backend asked for by name cannot start; says why and what to install. */
export class BackendUnavailableError extends Error {
  /** The backend that could not start. */
  readonly backend: ConcreteBackendName;
  /** Why it could not start and what to install. */
  readonly reason: string;

  /**
   * The error for one backend that could not start.
   * @param backend the backend that could not start
   * @param reason why, and what to install
   * @param options the underlying error as `cause`
   */
  constructor(backend: ConcreteBackendName, reason: string, options?: ErrorOptions) {
    super(`Cannot start backend "${backend}": ${reason}`, options);
    this.name = "BackendUnavailableError";
    this.backend = backend;
    this.reason = reason;
  }
}
