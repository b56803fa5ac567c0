/** bun-thread-manager: named, core-pinned thread pools for Bun, fed through lock-free shared memory. */
export {
  ThreadManagerError, InvalidArgumentError, PayloadTooLargeError, TimeoutError, SharedLayoutError, ConfigError,
  PoolNotFoundError, PoolBusyError, PoolClosedError, WorkerCrashedError, HandlerNotFoundError, DataCloneError, TaskError,
  PlacementError,
  ServeError,
} from "./errors.ts";
export { ThreadManager, type StartOptions } from "./main/thread-manager.ts";
export { manager } from "./main/global-manager.ts";
export { ComputePool, type ParallelForOptions } from "./main/compute-pool.ts";
export { AsyncPool } from "./main/async-pool.ts";
export type { TaskPool, RunOptions, CloseOptions } from "./main/task-pool.ts";
export type { MapOptions, Settled } from "./submit/task-batch.ts";
export type { PoolMetrics, SubmitterMetrics } from "./main/pool-metrics.ts";
export type { ThreadPools } from "./submit/thread-pools.ts";
export type { PoolClient } from "./submit/pool-client.ts";
export type { PoolHandle, PoolExport, PoolFunction, HandlerArg, KernelHandle, KernelFunction, KernelArg } from "./submit/pool-handle.ts";
export { NativePool, type NativeThread } from "./main/native-pool.ts";
export type { ThreadInfo } from "./main/thread-list.ts";
export type { CpuQuota } from "./platform/cgroup.ts";
export type {
  ThreadManagerConfig, ComputePoolConfig, AsyncPoolConfig, ScaledPoolConfig, ScalerConfig, NativePoolConfig, RuntimeConfig, CoreAllocation, SchedulingPolicy,
} from "./config/types.ts";
export type { NativeContext } from "./worker/native-worker.ts";
export type { TaskContext } from "./worker/task-context.ts";
export type { ServeContext } from "./worker/pool-server.ts";
