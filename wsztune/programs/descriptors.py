"""The open-file limit (RLIMIT_NOFILE) for work that opens a socket per subscriber.

A process may raise its soft limit up to its hard one, and its children inherit the raised limit;
only the hard limit needs the user (``ulimit -n``). Timing a broadcast through loopback sockets
needs one descriptor per socket besides what the process already holds: the Go helper refuses a
run whose sockets its hard limit cannot hold (:mod:`wsztune.codecs.go`), the zlib codec's sink
shares its sockets between subscribers instead (:mod:`wsztune.programs.sink`). Both reason here.
"""

from __future__ import annotations

# Files a process holds besides the sockets it opens (its own, its pipes, the corpus, a job
# file), with room to spare.
SPARE_DESCRIPTORS = 128


def most_open_files() -> int | None:
    """The most files a process can hold open once its soft limit is raised to its hard one
    (what this process or a child it starts can reach without the user); None: no limit, or
    not a POSIX system."""
    try:
        import resource
    except ImportError:  # not on POSIX: nothing to read
        return None
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if hard == resource.RLIM_INFINITY else hard


def open_files_for(sockets: int) -> int | None:
    """Raise this process's soft limit (its children inherit it) so that ``sockets`` more
    files and :data:`SPARE_DESCRIPTORS` fit, as far as the hard limit allows; the soft limit
    then in force (None: no limit, or not a POSIX system)."""
    return _raise_soft_limit(sockets + SPARE_DESCRIPTORS)


def raise_to_hard_limit() -> int | None:
    """Raise this process's soft limit to its hard one (a server holding thousands of
    connections needs a descriptor each; its children inherit the limit); the soft limit then
    in force (None: no limit, or not a POSIX system)."""
    return _raise_soft_limit(None)


def _raise_soft_limit(needed: int | None) -> int | None:
    """The soft limit raised to ``needed`` files (None: as far as it goes), never past the hard
    one nor lowered; the limit then in force."""
    try:
        import resource
    except ImportError:
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if needed is None else needed
    if soft != resource.RLIM_INFINITY and (target == resource.RLIM_INFINITY or soft < target):
        raised = target if hard == resource.RLIM_INFINITY else min(target, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
            soft = raised
        except (ValueError, OSError):
            pass  # the limit stays as it was: the caller fits within it
    return None if soft == resource.RLIM_INFINITY else soft


def usable_sockets(wanted: int) -> int:
    """How many of ``wanted`` sockets this process may open: the soft limit raised for them
    (:func:`open_files_for`), less :data:`SPARE_DESCRIPTORS`; at least 1 (where fewer than
    wanted fit, the caller shares them)."""
    soft = open_files_for(wanted)
    if soft is None:
        return wanted
    return max(1, min(wanted, soft - SPARE_DESCRIPTORS))

