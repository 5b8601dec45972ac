"""Data parallelism over every device of every host, with JAX's own multi-controller runtime.

One mesh with a `data` axis over all devices (`jax.devices()`: every process sees the global list). Batches
are sharded on it; parameters are replicated; optimizer state is replicated or, with `shard_opt_state`,
split along its first evenly divisible axis (ZeRO-1 style; XLA inserts the gathers). Steps are plain
`jax.jit` with NamedShardings: the SPMD partitioner inserts the gradient all-reduce, so the mean loss over
the global batch has exactly the gradient a single device would compute. This is today's form of the
`pmap` data-parallel loop (`jax.pmap` is in maintenance mode since JAX 0.8 and is built on `shard_map`).

Each process builds only its own rows of every global batch (`local_rows`) and hands them to
`jax.make_array_from_process_local_data`; the same code runs on 1 device, 8 devices and many hosts.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from xlgraph.errors import XlgraphError

log = logging.getLogger("xlgraph")

DATA = "data"


def initialize(coordinator: str | None = None, num_processes: int | None = None,
               process_id: int | None = None) -> bool:
    """Starts `jax.distributed` when asked or when a multi-process launcher is detected; True if it did.

    Explicit arguments win; then the environment: JAX_COORDINATOR_ADDRESS with JAX_NUM_PROCESSES and
    JAX_PROCESS_ID (any launcher, e.g. launch/localhost_2proc.sh); SLURM with more than one task; Open MPI
    (`mpirun`); a multi-worker Cloud TPU slice. In the last three JAX detects every value itself.
    Must run before anything touches a device. Single-process runs need nothing.
    """
    if jax.distributed.is_initialized():
        return True
    env = os.environ
    coordinator = coordinator or env.get("JAX_COORDINATOR_ADDRESS")
    if num_processes is None and env.get("JAX_NUM_PROCESSES"):
        num_processes = int(env["JAX_NUM_PROCESSES"])
    if process_id is None and env.get("JAX_PROCESS_ID"):
        process_id = int(env["JAX_PROCESS_ID"])
    detected = (int(env.get("SLURM_NTASKS", env.get("SLURM_NPROCS", "1"))) > 1
                or int(env.get("OMPI_COMM_WORLD_SIZE", "1")) > 1
                or "," in env.get("TPU_WORKER_HOSTNAMES", ""))
    if coordinator is None and not detected:
        if num_processes not in (None, 1):
            raise XlgraphError("--num-processes > 1 needs --coordinator HOST:PORT (or JAX_COORDINATOR_ADDRESS)")
        return False
    if coordinator is not None and (num_processes is None or process_id is None) and not detected:
        raise XlgraphError("with a coordinator address, give --num-processes and --process-id "
                           "(or JAX_NUM_PROCESSES and JAX_PROCESS_ID)")
    jax.distributed.initialize(coordinator_address=coordinator, num_processes=num_processes, process_id=process_id)
    log.info("jax.distributed: process %d of %d, %d local / %d global devices", jax.process_index(),
             jax.process_count(), jax.local_device_count(), jax.device_count())
    return True


def is_main_process() -> bool:
    return jax.process_index() == 0


@dataclasses.dataclass(frozen=True)
class DataParallel:
    """Where arrays live: batches split over `data`, everything else replicated (or opt state split)."""

    mesh: Mesh
    shard_opt_state: bool = False
    shard_min_size: int = 4096  # smaller optimizer-state leaves stay replicated

    @classmethod
    def create(cls, devices: Iterable[jax.Device] | None = None, *, shard_opt_state: bool = False,
               shard_min_size: int = 4096) -> DataParallel:
        """A 1-D mesh over `devices` (default: every device of every process, in process order)."""
        devices = list(devices) if devices is not None else jax.devices()
        return cls(Mesh(np.asarray(devices), (DATA,)), shard_opt_state, shard_min_size)

    @classmethod
    def from_config(cls, cfg) -> DataParallel:
        """From `parallel.num_devices` (0: all) and `parallel.shard_opt_state`."""
        devices, n = jax.devices(), cfg.parallel.num_devices
        if n and (n > len(devices) or jax.process_count() > 1):
            raise XlgraphError(f"parallel.num_devices={n}: this run has {len(devices)} devices over "
                               f"{jax.process_count()} process(es); a subset is only for single-process runs")
        return cls.create(devices[: n or None], shard_opt_state=cfg.parallel.shard_opt_state)

    def put_host_batch(self, batch: dict, batch_size: int) -> dict:
        """`put_batch` of a host batch's device fields (the host-only `index` stays behind)."""
        return self.put_batch({k: v for k, v in batch.items() if k != "index"}, batch_size)

    @property
    def size(self) -> int:
        return self.mesh.devices.size

    @property
    def batch(self) -> NamedSharding:
        return NamedSharding(self.mesh, P(DATA))

    @property
    def replicated(self) -> NamedSharding:
        return NamedSharding(self.mesh, P())

    def check_batch_size(self, batch_size: int, what: str = "train.batch_size") -> None:
        if batch_size % self.size:
            raise XlgraphError(f"{what}={batch_size} does not split over {self.size} devices; "
                               f"use a multiple of {self.size}")

    def local_rows(self, batch_size: int) -> slice:
        """The rows of a global batch whose shards live on this process's devices (contiguous)."""
        self.check_batch_size(batch_size)
        spans = self.batch.addressable_devices_indices_map((batch_size,)).values()
        start, stop = min(s[0].start or 0 for s in spans), max(s[0].stop or batch_size for s in spans)
        if (stop - start) * len(self.mesh.devices.flat) != batch_size * len(spans):
            raise XlgraphError("this process's devices do not hold one contiguous block of the batch")
        return slice(start, stop)

    def put_batch(self, local: dict, batch_size: int) -> dict:
        """Global arrays, sharded on `data`, from this process's rows (every leaf has the batch first)."""
        return {k: jax.make_array_from_process_local_data(self.batch, np.asarray(v), (batch_size, *np.shape(v)[1:]))
                for k, v in local.items()}

    def state_sharding(self, state) -> object:
        """A pytree of shardings for a TrainState-like tree: replicated, except optimizer state when
        `shard_opt_state` (the first axis divisible by the device count; small leaves stay replicated)."""
        def opt_leaf(x):
            shape = np.shape(x)
            if self.shard_opt_state and np.size(x) >= self.shard_min_size:
                for axis, dim in enumerate(shape):
                    if dim % self.size == 0:
                        return NamedSharding(self.mesh, P(*([None] * axis), DATA))
            return self.replicated

        shardings = jax.tree.map(lambda _: self.replicated, state)
        if hasattr(state, "opt_state"):
            shardings = shardings._replace(opt_state=jax.tree.map(opt_leaf, state.opt_state))
        return shardings

    def place(self, tree, shardings=None):
        """Puts a host-identical pytree (same values on every process) onto the mesh."""
        shardings = shardings if shardings is not None else jax.tree.map(lambda _: self.replicated, tree)

        def put(x, sharding):
            if jax.process_count() == 1:
                return jax.device_put(x, sharding)
            host = np.asarray(x)
            return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])

        return jax.tree.map(put, tree, shardings)


def prefetch(batches: Iterator, put: Callable, size: int = 2) -> Iterator:
    """Builds and transfers up to `size` batches ahead on a background thread, in order.

    The host work of the next batches (numpy gathering, padding, the copy to device) overlaps the
    running step; exceptions from the producer are raised in the consumer."""
    if size <= 0:
        yield from (put(b) for b in batches)
        return
    q: queue.Queue = queue.Queue(maxsize=size)
    done = object()
    stop = threading.Event()

    def produce():
        try:
            for b in batches:
                if stop.is_set():
                    return
                q.put(put(b))
            q.put(done)
        except BaseException as e:  # noqa: BLE001 - re-raised in the consumer
            q.put(e)

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                q.get_nowait()
            except queue.Empty:
                thread.join(0.01)
