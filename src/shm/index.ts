/**
 * The shared-memory core: lock-free injector, work-stealing deques, payload arena, idle/park
 * coordination, and the worker-side work finder that ties them together. See PROTOCOL.md.
 */
export { Injector, type InjectorOptions } from "./injector.ts";
export { DequeOwner, DequeStealer, Steal, allocateDeque, initDeque, dequeBytesFor, type DequeOptions } from "./deque.ts";
export { PayloadArena, DEFAULT_SIZE_CLASSES, sizeClassesFor, type SizeClass } from "./arena.ts";
export { IdleState, Wake, MAX_WORKERS, type WorkProbe } from "./idle.ts";
export { PoolQueues, type PoolQueuesOptions } from "./pool-queues.ts";
export { WorkFinder, NEXT_FOUND, NEXT_CLOSED, NEXT_IDLE, type Next, type PoolQueueRefs, type WorkFinderOptions } from "./work-finder.ts";
export { MAX_CAPACITY, MAX_RECORD_WORDS, type SharedRef } from "./layout.ts";
export { ManagerGate, GateExit } from "./manager-gate.ts";
