"""The pytest fixture's server listens below 32768 -- some clients keep the port in a signed
16-bit field (GramJS's string sessions) -- and finds a free port there by trying."""

from __future__ import annotations

import errno
import os
import random
import socket
from pathlib import Path

import pytest

from loopgram.crypto import RsaPrivateKey
from loopgram.testing.server import LOW_PORTS, ServerThread, start_on_a_free_low_port


def test_the_fixture_server_listens_below_32768(loopgram_server: ServerThread) -> None:
    assert loopgram_server.port in LOW_PORTS
    assert loopgram_server.port < 1 << 15


@pytest.mark.loopgram(port=0)
def test_a_port_given_in_the_marker_is_kept(loopgram_server: ServerThread) -> None:
    assert loopgram_server.port >= 1024  # 0: the kernel's choice, not the low range


class Scripted(random.Random):
    """A ``random.Random`` whose ``choice`` gives ``ports`` in order."""

    def __init__(self, ports: list[int]) -> None:
        super().__init__(0)
        self.ports = iter(ports)
        self.drawn: list[int] = []

    def choice(self, seq: object) -> int:  # type: ignore[override]
        port = next(self.ports)
        self.drawn.append(port)
        return port


def free_low_port(taken: set[int]) -> int:
    for port in LOW_PORTS:
        if port in taken:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free low port on this machine")


def test_a_taken_port_is_skipped(tmp_path: Path, loopgram_rsa_key: RsaPrivateKey) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", free_low_port(set())))
        holder.listen()
        taken = holder.getsockname()[1]
        rng = Scripted([taken, free_low_port({taken})])
        server = start_on_a_free_low_port(rng=rng, data_dir=None, rsa_key=loopgram_rsa_key)
        try:
            assert rng.drawn[0] == taken
            assert server.port == rng.drawn[1] != taken
        finally:
            server.stop()


def test_no_free_port_in_the_tries_raises_eaddrinuse(loopgram_rsa_key: RsaPrivateKey) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", free_low_port(set())))
        holder.listen()
        taken = holder.getsockname()[1]
        with pytest.raises(OSError) as failed:
            start_on_a_free_low_port(
                attempts=3, rng=Scripted([taken] * 3), data_dir=None, rsa_key=loopgram_rsa_key
            )
        assert failed.value.errno == errno.EADDRINUSE


def test_the_port_cannot_be_passed(loopgram_rsa_key: RsaPrivateKey) -> None:
    with pytest.raises(TypeError):
        start_on_a_free_low_port(port=20001, data_dir=None, rsa_key=loopgram_rsa_key)


def open_files_under(directory: Path) -> list[str]:
    fds = Path("/proc/self/fd")
    found = []
    for fd in fds.iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith(str(directory)):
            found.append(target)
    return found


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs /proc/self/fd")
def test_a_server_that_cannot_bind_leaves_its_database_closed(
    tmp_path: Path, loopgram_rsa_key: RsaPrivateKey
) -> None:
    data = tmp_path / "data"
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", free_low_port(set())))
        holder.listen()
        taken = holder.getsockname()[1]
        server = ServerThread(port=taken, data_dir=data, rsa_key=loopgram_rsa_key)
        with pytest.raises(RuntimeError) as failed:
            server.start()
        assert isinstance(failed.value.__cause__, OSError)
        assert failed.value.__cause__.errno == errno.EADDRINUSE
    assert (data / "loopgram.db").exists()  # it was opened...
    assert open_files_under(data) == []  # ...and closed again
