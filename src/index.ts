/** bun-thread-manager: named, core-pinned thread pools for Bun, fed through lock-free shared memory. */
export {
  ThreadManagerError, InvalidArgumentError, PayloadTooLargeError, TimeoutError, SharedLayoutError,
} from "./errors.ts";
export * from "./shm/index.ts";
