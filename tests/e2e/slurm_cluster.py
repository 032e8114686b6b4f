"""A real one-node Slurm cluster for tests and benchmarks: munged, slurmctld and slurmd in a
directory of their own (2 fake GPUs of 24 GiB as character devices, shards of 1 GiB, a count-only
vram GRES), on ports of their own, started and stopped here. See ../shared/notes/slurm.md.

    python3 tests/e2e/slurm_cluster.py start DIR   # prints SLURM_CONF=...
    python3 tests/e2e/slurm_cluster.py stop DIR
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

GPUS = 2
SHARDS_PER_GPU = 24  # 1 GiB each: 24 GiB GPUs
SHARD_MB = 1024


def available():
    return all(shutil.which(p) for p in ("slurmctld", "slurmd", "munged", "sbatch"))


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _real_memory_mb():
    out = subprocess.run(["slurmd", "-C"], capture_output=True, text=True).stdout
    for tok in out.split():
        if tok.startswith("RealMemory="):
            return int(int(tok.split("=")[1]) * 0.95)
    return 1024


class Cluster:
    def __init__(self, root):
        self.root = Path(root).resolve()
        self.conf = self.root / "etc" / "slurm.conf"
        self.env = dict(os.environ, SLURM_CONF=str(self.conf))
        self.children = {}  # daemons started here (reaped here: a zombie still "exists")

    def _pid(self, name):
        try:
            return int((self.root / "run" / f"{name}.pid").read_text().split()[0])
        except (OSError, ValueError):
            return None

    def write_config(self):
        r = self.root
        for d in ("etc", "state", "spool", "run", "log", "dev", "munge/run", "munge/etc", "jobs"):
            (r / d).mkdir(parents=True, exist_ok=True)
        os.chmod(r / "munge" / "etc", 0o700)
        for g in range(GPUS):
            dev = r / "dev" / f"fakegpu{g}"
            if not dev.exists():
                try:
                    os.mknod(dev, 0o666 | 0o020000, os.makedev(1, 3))
                except PermissionError:
                    dev.write_text("")
        ctl, node = _free_port(), _free_port()
        total = GPUS * SHARDS_PER_GPU
        self.conf.write_text(f"""ClusterName=vramqtest
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort={ctl}
SlurmdPort={node}
CommunicationParameters=NoInAddrAny
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={r}/munge/run/munge.socket.2
StateSaveLocation={r}/state
SlurmdSpoolDir={r}/spool
SlurmctldPidFile={r}/run/slurmctld.pid
SlurmdPidFile={r}/run/slurmd.pid
SlurmctldLogFile={r}/log/slurmctld.log
SlurmdLogFile={r}/log/slurmd.log
PlugStackConfig={r}/etc/plugstack.conf
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc={r}/log/jobcomp.txt
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=1
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MinJobAge=3600
KillWait=2
InactiveLimit=0
SlurmdParameters=config_overrides
GresTypes=gpu,shard,vram
NodeName=node1 NodeAddr=127.0.0.1 NodeHostname=localhost CPUs=16 RealMemory={_real_memory_mb()} Gres=gpu:{GPUS},shard:{total},vram:{GPUS * SHARDS_PER_GPU * SHARD_MB} State=UNKNOWN
PartitionName=main Nodes=node1 Default=YES MaxTime=INFINITE State=UP
""")
        lines = ["AutoDetect=off", f"NodeName=node1 Name=gpu File={r}/dev/fakegpu[0-{GPUS - 1}]"]
        for g in range(GPUS):
            lines.append(f"NodeName=node1 Name=shard Count={SHARDS_PER_GPU} File={r}/dev/fakegpu{g}")
        lines.append(f"NodeName=node1 Name=vram Count={GPUS * SHARDS_PER_GPU * SHARD_MB} Flags=CountOnly")
        (r / "etc" / "gres.conf").write_text("\n".join(lines) + "\n")
        (r / "etc" / "plugstack.conf").write_text("")

    def start_munge(self):
        m = self.root / "munge"
        key = m / "etc" / "munge.key"
        if not key.exists():
            subprocess.run(["mungekey", "--create", f"--keyfile={key}"], check=True,
                           capture_output=True)
        subprocess.run(["munged", "--force", f"--socket={m}/run/munge.socket.2",
                        f"--key-file={key}", f"--pid-file={self.root}/run/munged.pid",
                        f"--log-file={self.root}/log/munged.log",
                        f"--seed-file={m}/etc/munge.seed"], check=True, capture_output=True)

    def start_controller(self):
        log = open(self.root / "log" / "slurmctld.out", "ab")
        self.children["slurmctld"] = subprocess.Popen(
            ["slurmctld", "-D", "-i", "-f", str(self.conf)], stdout=log, stderr=log, env=self.env,
            start_new_session=True)

    def start_node(self):
        log = open(self.root / "log" / "slurmd.out", "ab")
        self.children["slurmd"] = subprocess.Popen(
            ["slurmd", "-D", "-N", "node1", "-f", str(self.conf)], stdout=log, stderr=log,
            env=self.env, start_new_session=True)

    def wait_idle(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            out = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True,
                                 env=self.env).stdout.strip()
            if out in ("idle", "mixed", "allocated"):
                return
            time.sleep(0.2)
        raise RuntimeError(f"the Slurm node did not come up (sinfo: {out!r})")

    def start(self):
        self.write_config()
        self.start_munge()
        self.start_controller()
        self.start_node()
        self.wait_idle()

    def stop_controller(self):
        self._stop("slurmctld")

    def _stop(self, name, timeout=10):
        child = self.children.pop(name, None)
        if child is not None:
            child.terminate()
            try:
                child.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            return
        pid = self._pid(name)
        if pid is None:
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def leftovers(self):
        """Processes of this cluster still running: by SLURM_CONF in their environment."""
        mark = f"SLURM_CONF={self.conf}".encode()
        found = []
        for d in os.listdir("/proc"):
            if not d.isdigit() or int(d) == os.getpid():
                continue
            try:
                env = Path(f"/proc/{d}/environ").read_bytes()
            except OSError:
                continue
            if mark in env.split(b"\0"):
                found.append(int(d))
        return found

    def stop(self):
        if self._pid("slurmctld") is not None:
            try:
                subprocess.run(["scancel", "--full", "-u", str(os.getuid())], env=self.env,
                               capture_output=True, timeout=15)
            except subprocess.TimeoutExpired:
                pass  # the controller is down: its daemons are stopped all the same
        for name in ("slurmctld", "slurmd", "munged"):
            self._stop(name)
        for pid in self.leftovers():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


if __name__ == "__main__":
    c = Cluster(sys.argv[2])
    if sys.argv[1] == "start":
        c.start()
        print(f"SLURM_CONF={c.conf}")
    else:
        c.stop()
