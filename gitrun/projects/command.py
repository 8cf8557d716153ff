"""Running a command as the process of a run: exact exit status, signals, output.

The command runs in its own process group, with a parent-death signal on Linux (``prctl
PR_SET_PDEATHSIG``: a SIGKILLed gitrun takes its command with it). SIGINT, SIGTERM and SIGHUP that
gitrun receives are passed to the command's whole group, and gitrun waits for it to end. When
stdin is the terminal and gitrun is in the foreground, the command's group becomes the terminal's
foreground group, so it can read the terminal and Ctrl-C reaches it directly. Its stdout and
stderr are streamed through and captured (:class:`Capture`: the first and the last bytes up to a
cap). docs/projects.md, "Exit statuses and signals", states the rules.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from gitrun.entities import RunStatus
from gitrun.errors import ExecutionException

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# A command killed by one of these was stopped from outside: KILLED. Other signals (SIGSEGV,
# SIGABRT...) are a crash: FAILED.
KILLING = frozenset({signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGKILL})
DEFAULT_OUTPUT_CAP = 256 * 1024  # per stream: stays under `gitrun commit`'s default DVC threshold
DRAIN_AFTER_EXIT_S = 0.5  # a background grandchild may hold the pipes open: stop reading after this
PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class CommandResult:
    """How a command ended: ``returncode`` as ``subprocess`` reports it (negative: killed by that
    signal), and the signal gitrun received and passed on, if any."""

    returncode: int
    interrupted: int | None = None

    @property
    def status(self) -> str:
        """The run's status: FINISHED on 0; KILLED when interrupted or killed by INT/TERM/HUP/KILL; else FAILED."""
        if self.interrupted is not None:
            return RunStatus.KILLED
        if self.returncode == 0:
            return RunStatus.FINISHED
        if self.returncode < 0 and -self.returncode in KILLING:
            return RunStatus.KILLED
        return RunStatus.FAILED

    @property
    def exit_status(self) -> int:
        """What gitrun exits with: the command's status, 128 + N for signal N (130 after Ctrl-C)."""
        if self.interrupted is not None:
            return 128 + self.interrupted
        return 128 - self.returncode if self.returncode < 0 else self.returncode


class Capture:
    """One output stream of the command: copied to ``echo`` (gitrun's own stream) as it comes, and
    kept in ``path``: the first ``cap / 2`` bytes at once, the last ``cap / 2`` at the end, with a
    line saying how much was left out between them."""

    def __init__(self, path: Path | None, echo: IO[bytes] | None, cap: int = DEFAULT_OUTPUT_CAP):
        self.path = path
        self.echo = echo
        self.head_limit = cap - cap // 2
        self.tail_limit = cap // 2
        self.total = 0
        self._file = open(path, "ab") if path is not None else None  # noqa: SIM115 - closed in finish()
        self._head = 0
        self._tail: deque[bytes] = deque()
        self._tail_size = 0
        self.echo_broken = False
        self.lost: str | None = None  # why the file stopped being written

    def feed(self, data: bytes) -> None:
        self.total += len(data)
        if self.echo is not None and not self.echo_broken:
            try:
                self.echo.write(data)
                self.echo.flush()
            except (BrokenPipeError, ValueError):  # `gitrun run -- cmd | head`: the reader is gone
                self.echo_broken = True
        if self._file is None:
            return
        room = self.head_limit - self._head
        if room > 0:
            try:
                self._file.write(data[:room])
                self._file.flush()  # what gitrun has read is on disk: a SIGKILL of gitrun keeps it
            except OSError as exc:  # a full disk: the command goes on, streamed, no longer kept
                self.lost = f"{exc.strerror or exc}"
                self._file.close()
                self._file = None
                return
            self._head += min(room, len(data))
            data = data[room:]
        if data and self.tail_limit:
            self._tail.append(data)
            self._tail_size += len(data)
            while self._tail_size - len(self._tail[0]) >= self.tail_limit:
                self._tail_size -= len(self._tail.popleft())

    @property
    def dropped(self) -> int:
        return max(0, self.total - self._head - min(self._tail_size, self.tail_limit))

    def finish(self) -> None:
        if self._file is None:
            return
        tail = b"".join(self._tail)[-self.tail_limit :] if self._tail else b""
        try:
            if self.dropped:
                self._file.write(f"\n[gitrun: {self.dropped} bytes left out here; the output cap is ".encode())
                self._file.write(f"{self.head_limit + self.tail_limit} bytes per stream]\n".encode())
            self._file.write(tail)
            self._file.close()
        except OSError as exc:
            self.lost = f"{exc.strerror or exc}"
        self._file = None


def _libc_prctl() -> Callable[..., int] | None:
    """``prctl`` from libc, looked up in the parent (a forked child must not load libraries)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl  # type: ignore[no-any-return]
    except (OSError, AttributeError):
        return None


_prctl = _libc_prctl()


def _foreground_tty() -> int | None:
    """fd 0 when it is a terminal whose foreground process group is gitrun's own, else None."""
    try:
        if os.isatty(0) and os.tcgetpgrp(0) == os.getpgrp():
            return 0
    except OSError:
        pass
    return None


def preexec(
    parent: int, tty: int | None = None, *, new_group: bool = True, death_signal: int = signal.SIGKILL
) -> Callable[[], None]:
    """What a child runs between fork and exec: its own process group (``new_group``), the
    terminal's foreground (``tty``), and ``death_signal`` when ``parent`` dies (Linux)."""

    def setup() -> None:  # in the child: system calls only
        if new_group:
            os.setpgid(0, 0)
        if _prctl is not None:
            _prctl(PR_SET_PDEATHSIG, int(death_signal), 0, 0, 0)
            if os.getppid() != parent:  # the parent died before prctl took effect
                os._exit(128 + int(death_signal))
        if tty is not None:
            signal.signal(signal.SIGTTOU, signal.SIG_IGN)
            with contextlib.suppress(OSError):
                os.tcsetpgrp(tty, os.getpid())
            signal.signal(signal.SIGTTOU, signal.SIG_DFL)

    return setup


def _take_back_terminal(tty: int) -> None:
    previous = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    try:
        with contextlib.suppress(OSError):
            os.tcsetpgrp(tty, os.getpgrp())
    finally:
        signal.signal(signal.SIGTTOU, previous)


class _Forwarder:
    """Pass SIGINT/SIGTERM/SIGHUP on to the command's process group while it runs (main thread only)."""

    def __init__(self) -> None:
        self.pgid: int | None = None
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _Forwarder:
        if threading.current_thread() is threading.main_thread():
            for sig in FORWARDED:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, _frame: Any) -> None:
        self.received = self.received or signum
        if self.pgid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pgid, signum)

    def started(self, pid: int) -> None:
        self.pgid = pid
        if self.received is not None:  # arrived between the handler and the fork
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, self.received)

    def __exit__(self, *_: Any) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)


def run_command(
    argv: Sequence[str],
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    stdout: Capture,
    stderr: Capture,
    on_start: Callable[[int], None] | None = None,
) -> CommandResult:
    """Run ``argv`` to its end, streaming its output into ``stdout`` / ``stderr``.

    ``on_start`` gets the command's PID once it runs. Raises :class:`ExecutionException` when
    the command cannot be started (not found, not executable)."""
    tty = _foreground_tty()
    with _Forwarder() as forwarder:
        try:
            proc = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=dict(env) if env is not None else None,
                stdin=None,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                preexec_fn=preexec(os.getpid(), tty),
                close_fds=True,
            )
        except OSError as exc:
            error = ExecutionException(
                f"cannot run {argv[0]!r}: {exc.strerror or exc}; check the command's name and that it is on PATH"
            )
            error.exit_code = 127 if isinstance(exc, FileNotFoundError) else 126  # as a shell exits
            raise error from None
        with contextlib.suppress(OSError):  # as shells do: whichever of parent and child runs first
            os.setpgid(proc.pid, proc.pid)
        forwarder.started(proc.pid)
        if on_start is not None:
            on_start(proc.pid)
        try:
            _pump(proc, stdout, stderr)
            returncode = proc.wait()
        finally:
            if tty is not None:
                _take_back_terminal(tty)
            stdout.finish()
            stderr.finish()
        return CommandResult(returncode, forwarder.received)


def _pump(proc: subprocess.Popen[bytes], out: Capture, err: Capture) -> None:
    """Copy the command's pipes until both close, or shortly after the command has exited."""
    assert proc.stdout is not None and proc.stderr is not None
    selector = selectors.DefaultSelector()
    streams = {proc.stdout.fileno(): (proc.stdout, out), proc.stderr.fileno(): (proc.stderr, err)}
    for fd, (pipe, _) in streams.items():
        os.set_blocking(fd, False)
        selector.register(pipe, selectors.EVENT_READ)
    deadline: float | None = None
    try:
        while streams:
            if deadline is None and proc.poll() is not None:
                deadline = time.monotonic() + DRAIN_AFTER_EXIT_S
            timeout = 0.2 if deadline is None else max(0.0, deadline - time.monotonic())
            events = selector.select(timeout)
            if not events and deadline is not None and time.monotonic() >= deadline:
                break
            for key, _ in events:
                fd = key.fd
                pipe, capture = streams[fd]
                try:
                    data = os.read(fd, 65536)
                except BlockingIOError:
                    continue
                if data:
                    capture.feed(data)
                if not data or (capture.echo_broken and capture is out):
                    # EOF; or nobody reads gitrun's stdout any more: close the pipe, so the
                    # command gets SIGPIPE as it would writing to a closed pipe itself
                    selector.unregister(pipe)
                    pipe.close()
                    del streams[fd]
    finally:
        selector.close()
        for pipe, _ in streams.values():
            pipe.close()
