"""programs/descriptors.py: the open-file limit, raised where it may be, read where it may not."""

from __future__ import annotations

import pytest

from wsztune.programs import descriptors, sink


@pytest.fixture
def limits(monkeypatch: pytest.MonkeyPatch) -> dict[str, tuple[int, int]]:
    """RLIMIT_NOFILE as a dict the test sets (``now``: soft, hard); raising the soft limit above
    the hard one fails as the kernel fails it."""
    resource = pytest.importorskip("resource")
    limits = {"now": (200, 200)}
    monkeypatch.setattr(resource, "getrlimit", lambda _: limits["now"])

    def setrlimit(_: int, wanted: tuple[int, int]) -> None:
        hard = limits["now"][1]
        if hard != resource.RLIM_INFINITY and wanted[0] > hard:
            raise ValueError("above the hard limit")
        limits["now"] = wanted

    monkeypatch.setattr(resource, "setrlimit", setrlimit)
    return limits


def test_the_descriptor_limit_is_raised_or_leaves_room_for_the_process_own_files(
    limits: dict[str, tuple[int, int]],
) -> None:
    spare = descriptors.SPARE_DESCRIPTORS
    # The hard limit holds no more: 200 less the spare descriptors (the sink shares them).
    assert descriptors.usable_sockets(1000) == 200 - spare
    assert descriptors.usable_sockets(10) == 10
    assert sink.usable_sockets is descriptors.usable_sockets  # the sink's rule is this one
    # A hard limit above: the soft one is raised to what the sockets and the spare need.
    limits["now"] = (200, 5000)
    assert descriptors.usable_sockets(1000) == 1000
    assert limits["now"] == (1000 + spare, 5000)


def test_what_a_process_may_open_is_its_hard_limit_whatever_its_soft_one(
    limits: dict[str, tuple[int, int]],
) -> None:
    """The Go helper raises its soft limit to its hard one as it starts: the hard limit is
    what the check before it starts compares with, and an unlimited one is no limit."""
    import resource

    limits["now"] = (100, 4000)
    assert descriptors.most_open_files() == 4000
    limits["now"] = (100, resource.RLIM_INFINITY)
    assert descriptors.most_open_files() is None
    # No hard limit: the soft one is raised to what is needed, no further.
    assert descriptors.open_files_for(1000) == 1000 + descriptors.SPARE_DESCRIPTORS
    assert limits["now"] == (1000 + descriptors.SPARE_DESCRIPTORS, resource.RLIM_INFINITY)


def test_a_live_fleet_raises_its_soft_limit_to_the_hard_one_and_never_lowers_it(
    limits: dict[str, tuple[int, int]],
) -> None:
    """A live server holding thousands of connections takes all the hard limit allows (its
    children inherit it); a soft limit already there, or unlimited, stays as it is."""
    import resource

    limits["now"] = (1024, 65536)
    assert descriptors.raise_to_hard_limit() == 65536
    assert limits["now"] == (65536, 65536)
    limits["now"] = (1024, resource.RLIM_INFINITY)
    assert descriptors.raise_to_hard_limit() is None
    assert limits["now"] == (resource.RLIM_INFINITY, resource.RLIM_INFINITY)
    # Asked for less than it holds, the soft limit stays.
    limits["now"] = (4096, 8192)
    assert descriptors.open_files_for(10) == 4096
