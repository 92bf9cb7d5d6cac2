"""The Ray instance a search runs on: a local one on this machine's cores (on 127.0.0.1, no dashboard),
or an existing cluster joined at `address`. Imports Ray only when entered.

Failures are one line (SearchError): an address nobody answers at (tried with a plain TCP connection
first, so an unreachable cluster is refused in seconds, not after Ray's long retries), a cluster with no
CPU to run a trial on, a Ray that refuses the connection (an authentication token, a version)."""

from __future__ import annotations

import contextlib
import logging
import os
import socket

from ..errors import DWNError


class SearchError(DWNError):
    """The search cannot run: no Ray cluster at the address, no CPU in it, a bad option."""


def parse_address(address: str) -> tuple:
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise SearchError(f"--address {address!r}: expected HOST:PORT (the head's GCS port, e.g. 127.0.0.1:6379)")
    return host, int(port)


def check_reachable(address: str, timeout: float = 5.0) -> None:
    host, port = parse_address(address)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise SearchError(f"cannot reach a Ray cluster at {address} ({reason})") from None


@contextlib.contextmanager
def _loopback_only():
    """Ray (2.x on Linux) turns a node address of 127.0.0.1 into the machine's external one and binds its
    servers there; with multi-node support off, as on a laptop OS, it keeps every server on 127.0.0.1. A local
    instance is one node, so nothing is lost; the flag is Ray's own (`RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER`),
    read as a module constant, so it is set here for the start only."""
    from ray._private import ray_constants

    before = ray_constants.ENABLE_RAY_CLUSTER
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = before


@contextlib.contextmanager
def connected(address: str | None = None, num_cpus: int | None = None):
    """Ray, initialised for the block: joined at `address`, else a local instance of `num_cpus` CPUs
    (default: the machine's); shut down (the local instance stopped, a cluster left) however the block ends.
    Yields the number of CPUs the cluster offers."""
    if address:
        check_reachable(address)
    import ray

    kwargs = {"logging_level": logging.ERROR, "log_to_driver": False, "configure_logging": True}
    try:
        if address:
            ray.init(address=address, **kwargs)
        else:
            with _loopback_only():
                ray.init(num_cpus=(os.cpu_count() or 1) if num_cpus is None else num_cpus,
                         include_dashboard=False, _node_ip_address="127.0.0.1", **kwargs)
    except Exception as exc:  # Ray's own errors (auth, versions, a dead head) are many classes
        ray.shutdown()
        where = f"the Ray cluster at {address}" if address else "a local Ray instance"
        raise SearchError(f"cannot start on {where}: {' '.join(str(exc).split())[:300]}") from None
    try:
        cpus = int(ray.cluster_resources().get("CPU", 0))
        if cpus < 1:
            raise SearchError(f"the Ray cluster at {address or 'local'} has no CPU to run a trial on "
                              f"(start its nodes with --num-cpus 1 or more)")
        yield cpus
    finally:
        ray.shutdown()
