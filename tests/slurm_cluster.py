"""A one-node Slurm cluster on 127.0.0.1, for tests (a fixture and its helpers; no tests here).

munged, slurmctld and one slurmd from Debian's packages (`apt-get install
slurmctld slurmd slurm-client munge`: Slurm 22.05 on bookworm) run in the
foreground with a throwaway config in a short folder under /tmp: linuxproc
process tracking, no cgroups, no accounting database, CPUs and memory set in
the config (Slurm trusts it over the hardware), finished jobs kept visible to
`scontrol` for a day. Jobs run as the user who submits them, which slurmd can
only do as root.

A test gets the session fixture `slurm_cluster` by name (conftest.py loads
this module as a plugin) and passes `slurm_cluster.env` (SLURM_CONF) to the
code under test, which calls sbatch and scontrol itself. A missing binary, or
not being root, skips the test outside CI and fails it in CI (team_stack.require);
.ci/run installs the packages.

Starting takes about 0.2 s; the first job after a start waits about 3 s for
slurmctld's first scheduling pass.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from team_stack import require
from tests_support import LOOPBACK, free_port

# Binary -> the Debian package that provides it.
BINARIES = {"munged": "munge", "slurmctld": "slurmctld", "slurmd": "slurmd", "sbatch": "slurm-client",
            "scontrol": "slurm-client", "squeue": "slurm-client", "scancel": "slurm-client",
            "sinfo": "slurm-client"}
NODE = "localhost"
START_TIMEOUT_S = 30
# What the node offers; above this machine's 2 cores so a sweep's tasks run side by side.
CPUS = 4
REAL_MEMORY_MB = 16_000

SLURM_CONF = """\
ClusterName=loopback
SlurmctldHost={node}({loopback})
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={root}/munge/munge.socket
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/log/slurmctld.log
SlurmdLogFile={root}/log/slurmd.log
PlugStackConfig={root}/plugstack.conf
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/builtin
SchedulerParameters=sched_interval=1,sched_min_interval=0,batch_sched_delay=0
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
SlurmdParameters=config_overrides
# A request the node can never satisfy fails at sbatch instead of pending forever.
EnforcePartLimits=ALL
MinJobAge=86400
ReturnToService=2
MessageTimeout=5
KillWait=1
Waittime=0
NodeName={node} NodeAddr={loopback} CPUs={cpus} Sockets=1 CoresPerSocket={cpus} ThreadsPerCore=1 RealMemory={memory} State=UNKNOWN
PartitionName=debug Nodes={node} Default=YES MaxTime=INFINITE State=UP
"""


def _which(binary: str) -> str | None:
    # The daemons live in /usr/sbin, which is not on every PATH.
    return shutil.which(binary, path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"]))


def missing_packages() -> list[str]:
    return sorted({package for binary, package in BINARIES.items() if _which(binary) is None})


def _wait(predicate: Callable[[], bool], what: str, alive: Callable[[], None]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not predicate():
        alive()
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {START_TIMEOUT_S} s waiting for {what}")
        time.sleep(0.05)


def _listens(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex((LOOPBACK, port)) == 0


def _job_processes(conf: Path) -> list[int]:
    """Processes whose environment names this cluster's config: slurmstepd (which
    detaches from slurmd and outlives it) and the jobs it runs."""
    marker = f"SLURM_CONF={conf}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and int(proc.name) != os.getpid():
            with contextlib.suppress(OSError):
                if marker in (proc / "environ").read_bytes().split(b"\0"):
                    found.append(int(proc.name))
    return found


class LoopbackSlurm:
    """munged, slurmctld and slurmd on 127.0.0.1, their files in one temporary folder."""

    def __init__(self) -> None:
        self.root: Path | None = None
        self.daemons: list[subprocess.Popen] = []

    @property
    def conf(self) -> Path:
        assert self.root is not None, "start() first"
        return self.root / "slurm.conf"

    @property
    def env(self) -> dict[str, str]:
        """What a Slurm client needs to reach this cluster."""
        return {"SLURM_CONF": str(self.conf)}

    def client(self, *args: str) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "SBATCH_"))}
        return subprocess.run([_which(args[0]) or args[0], *args[1:]], env={**env, **self.env},
                              capture_output=True, text=True, timeout=30)

    def _start(self, name: str, *argv: str) -> None:
        assert self.root is not None
        with open(self.root / "log" / f"{name}.out", "wb") as out:
            self.daemons.append(subprocess.Popen([_which(name), *argv], env={**os.environ, **self.env},
                                                 stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                                 start_new_session=True))

    def _alive(self) -> None:
        for proc in self.daemons:
            if proc.poll() is not None:
                raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode}:\n{self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        assert self.root is not None
        return "\n".join(f"==> {log.name} <==\n" + "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
                         for log in sorted((self.root / "log").glob("*")))

    def start(self) -> LoopbackSlurm:
        # Short: slurmstepd's unix sockets in the spool folder must fit in 107 bytes.
        self.root = Path(tempfile.mkdtemp(prefix="la-slurm-", dir="/tmp"))
        for folder in ("state", "spool", "log", "munge"):
            (self.root / folder).mkdir()
        (self.root / "munge").chmod(0o755)  # munged wants its socket's folder world-searchable
        key = self.root / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        (self.root / "plugstack.conf").write_text("")  # not the distribution's plugstack.conf.d
        ctld_port, slurmd_port = free_port(), free_port()
        self.conf.write_text(SLURM_CONF.format(node=NODE, loopback=LOOPBACK, root=self.root, ctld_port=ctld_port,
                                               slurmd_port=slurmd_port, cpus=CPUS, memory=REAL_MEMORY_MB))
        munge = self.root / "munge"
        self._start("munged", "--foreground", "--force", f"--key-file={key}", f"--socket={munge}/munge.socket",
                    f"--pid-file={munge}/munged.pid", f"--seed-file={munge}/munged.seed")
        _wait((munge / "munge.socket").exists, "munged's socket", self._alive)
        self._start("slurmctld", "-D", "-c", "-f", str(self.conf))
        # Clients and slurmd that find slurmctld not yet listening retry only a second later.
        _wait(lambda: _listens(ctld_port), "slurmctld to listen", self._alive)
        self._start("slurmd", "-D", "-N", NODE, "-f", str(self.conf))
        _wait(lambda: self.client("sinfo", "--noheader", "--Node", "--format=%T").stdout.strip() == "idle",
              "the node to be idle", self._alive)
        return self

    def stop(self) -> None:
        if self.root is None:
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.client("scancel", "--partition=debug")
        for proc in reversed(self.daemons):
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        for pid in _job_processes(self.conf):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[LoopbackSlurm]:
    missing = missing_packages()
    require(not missing, f"Slurm is not installed (Debian: apt-get install -y {' '.join(missing)})")
    require(os.geteuid() == 0, "the loopback Slurm cluster runs jobs as their user, which slurmd does only as root")
    cluster = LoopbackSlurm()
    try:
        yield cluster.start()
    finally:
        cluster.stop()
