import os
import signal
import subprocess
import sys

import pytest

from iterative_reasoning.engine import RunDirectoryBusy, RunDirectoryLock

HOLD = """
import sys, time
from iterative_reasoning.engine import RunDirectoryLock
RunDirectoryLock(sys.argv[1]).acquire()
print("held", flush=True)
time.sleep(120)
"""


def _holder(directory):
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(directory)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    return process


def test_a_second_process_is_refused_with_the_holder_named_and_a_killed_ones_lock_taken_over(
    tmp_path,
):
    process = _holder(tmp_path)
    try:
        with pytest.raises(RunDirectoryBusy, match=f"process {process.pid} is training into it"):
            RunDirectoryLock(tmp_path).acquire()
    finally:
        os.kill(process.pid, signal.SIGKILL)  # no chance to clean up: the lock file stays
        process.wait(timeout=30)
    assert (tmp_path / ".lock").exists()
    with RunDirectoryLock(tmp_path):  # the stale lock is taken over
        assert (tmp_path / ".lock").read_text().strip() == str(os.getpid())


def test_the_lock_is_reentrant_within_a_process_and_released_at_the_end(tmp_path):
    outer = RunDirectoryLock(tmp_path).acquire()
    with RunDirectoryLock(tmp_path):  # e.g. the command holds it, then train() takes it
        pass
    process = subprocess.run(
        [sys.executable, "-c", HOLD.replace("time.sleep(120)", ""), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert process.returncode != 0 and "RunDirectoryBusy" in process.stderr  # still held
    outer.release()
    process = subprocess.run(
        [sys.executable, "-c", HOLD.replace("time.sleep(120)", ""), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert process.returncode == 0, process.stderr


def test_a_link_planted_as_the_lock_file_is_refused(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me")
    run = tmp_path / "run"
    run.mkdir()
    os.symlink(outside, run / ".lock")
    with pytest.raises(OSError, match="is a link"):
        RunDirectoryLock(run).acquire()
    assert outside.read_text() == "keep me"
