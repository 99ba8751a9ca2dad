"""Which series of well-known exporters are signals, and which are context.

An alert should say that something a person acts on is wrong: a resource used up, saturated
or failing (the USE method: utilisation, saturation, errors), or a service slow or failing.
Exporters report much more than that: how the kernel or a language runtime accounts for its
own work. Those series move with whatever the machine happens to do (a log flush dirties
pages, a connection closes into ``TIME_WAIT``, the garbage collector runs), an anomaly on one
of them is not a reason to wake anybody, and when something is wrong they move *because* a
signal moved. They stay useful as context (the detect stage still computes their deviations
for diagnosis), but they never raise an alert by themselves.

The signals are those the exporters' own maintainers alert and build dashboards on (the
node-exporter mixin's alerts and USE dashboards; for a process, what shows a leak or a
stall). Only the well-known namespaces below are sorted; a series of any other name is a
signal, so an exporter this table has never heard of is scored in full.

* ``node_memory_*`` (``/proc/meminfo``): only what says whether memory is left --
  ``MemAvailable``, ``MemTotal``, ``SwapFree``, ``SwapTotal``, ``HardwareCorrupted``. The
  rest is the kernel's breakdown of how it uses memory (page cache, dirty and writeback
  pages, slab, huge pages, page tables): it churns with the page cache, and memory pressure
  shows in ``MemAvailable``, major faults, swapping and ``node_pressure_memory_*``.
* ``node_vmstat_*``: major page faults, swap-ins and -outs and OOM kills (memory
  saturation and errors); page-in/-out volumes and minor faults are workload.
* ``node_netstat_*``, ``node_softnet_*``, ``node_nf_conntrack_stat_*``: errors, drops,
  overflows, retransmissions, timeouts and failures; segment, datagram and connection
  volumes repeat ``node_network_*`` or are workload.
* ``node_sockstat_*`` (sockets by protocol and state), ``node_context_switches_total``,
  ``node_intr_total``, ``node_interrupts_total``, ``node_forks_total``,
  ``node_entropy_*``, ``node_arp_entries``, ``node_udp_queues``,
  ``node_cpu_guest_seconds_total`` (already in ``user``): workload bookkeeping.
* ``node_disk_*``: utilisation and saturation (``io_time``, ``io_time_weighted``),
  throughput and latency (bytes, completed operations, read/write time); discards, cache
  flushes, merges and the instantaneous ``io_now`` are the block layer's housekeeping.
* ``node_timex_*``: the clock's offset and sync status; the discipline loop's internals
  are context. ``node_network_*``: compressed, multicast and unhandled packets are context.
* a process's runtime (``go_*``, ``process_*``, ``python_*``): resident memory, open file
  descriptors, CPU, goroutines and threads (what a leak or a stall moves). The allocator's
  and collector's own accounting (``go_memstats_*``, ``go_gc_*``, ``go_sched_*``,
  ``python_gc_*``) cycles with every garbage collection, and virtual memory size is address
  space reserved, not memory used.

>>> [signal(n) for n in ("node_memory_MemAvailable_bytes", "node_memory_Dirty_bytes",
...  "node_sockstat_TCP_tw", "go_memstats_stack_inuse_bytes", "node_netstat_Tcp_RetransSegs",
...  "node_netstat_Tcp_InSegs", "node_cpu_seconds_total", "process_resident_memory_bytes",
...  "http_requests_total")]
[True, False, False, False, True, False, True, True, True]
"""

from __future__ import annotations

import re
from functools import lru_cache

#: namespaces sorted into signals and context: prefix -> what in it is a signal
_SIGNALS: dict[str, re.Pattern[str]] = {
    "node_memory_": re.compile(
        r"(MemAvailable|MemTotal|SwapFree|SwapTotal|HardwareCorrupted)(_bytes)?"),
    "node_vmstat_": re.compile(r"pgmajfault|pswpin|pswpout|oom_kill"),
    "node_netstat_": re.compile(r".*(Err|Drop|Overflow|Retrans|Timeout|Fail|Prune).*"),
    "node_softnet_": re.compile(r"(dropped|times_squeezed)_total"),
    "node_nf_conntrack_stat_": re.compile(r"drop|early_drop|insert_failed|invalid"),
    "node_sockstat_": re.compile(r"(?!)"),
    "node_entropy_": re.compile(r"(?!)"),
    "node_disk_": re.compile(
        r"(io_time|io_time_weighted|read_time|write_time)_seconds_total"
        r"|(read|written)_bytes_total|(reads|writes)_completed_total"),
    "node_timex_": re.compile(r"offset_seconds|sync_status"),
    "node_network_": re.compile(r"(?!(receive|transmit)_(compressed|multicast|nohandler)).*"),
    "go_": re.compile(r"goroutines|threads"),
    "process_": re.compile(r"resident_memory_bytes|open_fds|cpu_seconds_total"),
    "python_": re.compile(r"(?!gc_).*"),
}
_CONTEXT = frozenset((
    "node_context_switches_total", "node_intr_total", "node_interrupts_total",
    "node_forks_total", "node_arp_entries", "node_udp_queues",
    "node_cpu_guest_seconds_total",
))


@lru_cache(maxsize=65536)
def signal(name: str) -> bool:
    """Whether an anomaly on series ``name`` is worth an alert by itself (True for every
    name outside the namespaces this module sorts).

    >>> [signal(n) for n in ("node_disk_io_time_seconds_total",
    ...  "node_disk_discarded_sectors_total", "node_vmstat_pgmajfault", "node_vmstat_pgpgin",
    ...  "go_gc_duration_seconds", "go_goroutines", "node_network_receive_drop_total",
    ...  "node_network_receive_multicast_total", "node_load1", "node_intr_total")]
    [True, False, True, False, False, True, True, False, True, False]
    """
    if name in _CONTEXT:
        return False
    for prefix, signals in _SIGNALS.items():
        if name.startswith(prefix):
            return signals.fullmatch(name, len(prefix)) is not None
    return True
