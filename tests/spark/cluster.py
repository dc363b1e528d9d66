"""A real Spark standalone cluster on this machine, for tests: a master and workers as
separate JVMs started with the ``spark-class`` launcher that the pyspark package ships,
and a Spark Connect server started with its ``spark-submit``. Nothing is downloaded:
every jar comes from pyspark's own ``jars/`` folder.

Use: ``with start_cluster(tmp_path, workers=2) as c:`` gives a running cluster whose
``c.url`` is ``'spark://127.0.0.1:PORT'``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

# Safety net only, never a speed check: every wait below ends as soon as its condition
# holds; only a cluster that never comes up (a hang) fails on it. Far above the ~30 s a
# start takes on a loaded 2-core machine.
HANG = 900


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spark_env(logs: Path) -> dict[str, str]:
    """Environment for the launchers: pyspark's folder as SPARK_HOME, loopback only, no REST server."""
    return {**os.environ, "SPARK_HOME": str(spark_home()), "SPARK_LOCAL_IP": "127.0.0.1",
            "SPARK_LOG_DIR": str(logs), "SPARK_MASTER_OPTS": "-Dspark.master.rest.enabled=false",
            "SPARK_CONNECT_MODE": "0"}


@dataclass
class Cluster:
    url: str
    ui: str
    home: Path
    processes: list[subprocess.Popen] = field(default_factory=list)
    work_dirs: list[Path] = field(default_factory=list)

    def status(self) -> dict:
        """The master's JSON status (workers, cores, running and completed applications)."""
        with urllib.request.urlopen(f"{self.ui}/json/", timeout=HANG) as r:
            return json.loads(r.read())

    def executor_dirs(self) -> list[Path]:
        """One folder per executor a worker has run (``<work dir>/app-…/<executor id>``)."""
        return sorted(p for w in self.work_dirs for p in w.glob("app-*/*") if p.is_dir())


def _launch(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    with log.open("ab") as out:  # its own process group, so stopping it stops the JVM it execs
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)


def _wait(what: str, ready, procs: list[subprocess.Popen], logs: list[Path]) -> None:
    deadline = time.monotonic() + HANG
    while time.monotonic() < deadline:
        for p, log in zip(procs, logs):
            if p.poll() is not None:
                raise RuntimeError(f"{what}: a process exited ({p.returncode}): {log.read_text()[-2000:]}")
        try:
            if ready():
                return
        except (OSError, ValueError):  # not listening yet, or the UI still starting (HTML, not JSON)
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{what}: not ready after {HANG} s: {logs[0].read_text()[-2000:]}")


def stop(procs: list[subprocess.Popen]) -> None:
    """Stop processes this module started (each by its own process group id)."""
    for p in reversed(procs):
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    for p in reversed(procs):
        try:
            p.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


@contextmanager
def start_cluster(home: Path, *, workers: int = 2, cores: int = 1, memory: str = "1g") -> Iterator[Cluster]:
    """A standalone master and ``workers`` workers (each ``cores`` cores, ``memory``), all
    separate JVMs bound to 127.0.0.1; stopped on exit."""
    home.mkdir(parents=True, exist_ok=True)
    env = spark_env(home / "logs")
    launcher = str(spark_home() / "bin" / "spark-class")
    port, ui = free_port(), free_port()
    cluster = Cluster(f"spark://127.0.0.1:{port}", f"http://127.0.0.1:{ui}", home)
    try:
        log = home / "master.log"
        cluster.processes.append(_launch([launcher, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                                          "--port", str(port), "--webui-port", str(ui)], log, env))
        _wait("Spark master", lambda: cluster.status().get("status") == "ALIVE", cluster.processes, [log])
        logs = [log]
        for i in range(workers):
            work = home / f"worker{i + 1}"
            work.mkdir(exist_ok=True)
            cluster.work_dirs.append(work)
            logs.append(home / f"worker{i + 1}.log")
            cluster.processes.append(_launch(
                [launcher, "org.apache.spark.deploy.worker.Worker", cluster.url, "--host", "127.0.0.1",
                 "--cores", str(cores), "--memory", memory, "--webui-port", "0", "--work-dir", str(work)], logs[-1], env))
        _wait("Spark workers", lambda: cluster.status().get("aliveworkers") == workers, cluster.processes, logs)
        yield cluster
    finally:
        stop(cluster.processes)


@dataclass
class ConnectServer:
    url: str
    log: Path
    process: subprocess.Popen


@contextmanager
def start_connect_server(home: Path, master: str) -> Iterator[ConnectServer]:
    """A Spark Connect server (``org.apache.spark.sql.connect.service.SparkConnectServer``,
    from pyspark's own ``spark-connect`` jar) driving ``master``; stopped on exit."""
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = home / "connect.log"
    args = [str(spark_home() / "bin" / "spark-submit"), "--class", "org.apache.spark.sql.connect.service.SparkConnectServer",
            "--name", "shoplens-connect-test", "--master", master,
            "--conf", f"spark.connect.grpc.binding.port={port}", "--conf", "spark.ui.enabled=false",
            "--conf", "spark.driver.extraJavaOptions=-Xss64m", "--conf", "spark.executor.extraJavaOptions=-Xss64m",
            "--conf", "spark.sql.shuffle.partitions=2"]
    proc = _launch(args, log, spark_env(home / "logs"))
    try:
        _wait("Spark Connect server", lambda: "Spark Connect server started" in log.read_text(), [proc], [log])
        yield ConnectServer(f"sc://127.0.0.1:{port}", log, proc)
    finally:
        stop([proc])
