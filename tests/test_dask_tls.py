"""A sweep on a TLS-only Dask cluster: certificates made with openssl, a real LocalCluster on 127.0.0.1 that
requires encryption, the CLI with --tls-ca/--tls-cert/--tls-key; the same numbers as a local run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from core.errors import ParameterError
from core.sweeps.dask_backend import TlsFiles, connect

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "projects", "digits-paper.h5")


def _certs(folder) -> TlsFiles:
    """A CA and one certificate it signed (used by the scheduler, the workers and the client)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    d = str(folder)

    def run(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "1",
        "-subj", "/CN=workbench-test-ca")  # fmt: skip
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "node.key", "-out", "node.csr", "-subj", "/CN=127.0.0.1")
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n")
    run("x509", "-req", "-in", "node.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out",
        "node.pem", "-days", "1", "-extfile", "ext.cnf")  # fmt: skip
    return TlsFiles(os.path.join(d, "ca.pem"), os.path.join(d, "node.pem"), os.path.join(d, "node.key"))


@pytest.fixture
def tls_cluster(tmp_path):
    from distributed import LocalCluster
    from distributed.security import Security

    files = _certs(tmp_path)
    sec = Security(
        tls_ca_file=files.ca_file,
        tls_scheduler_cert=files.cert_file,
        tls_scheduler_key=files.key_file,
        tls_worker_cert=files.cert_file,
        tls_worker_key=files.key_file,
        tls_client_cert=files.cert_file,
        tls_client_key=files.key_file,
        require_encryption=True,
    )
    cluster = LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, protocol="tls://", host="127.0.0.1",
        security=sec, dashboard_address=None,
    )  # fmt: skip
    yield cluster, files
    cluster.close()


def test_a_tls_sweep_gives_the_local_numbers_and_plain_tcp_is_refused(tls_cluster, tmp_path):
    cluster, files = tls_cluster
    address = cluster.scheduler_address
    assert address.startswith("tls://127.0.0.1:")
    args = ["sweep", EXAMPLE, "--patterns", "circle,columns", "--sizes", "0.2", "--stuck", "on", "--arrays", "1",
            "--seeds", "3", "--no-save", "--json", "--quiet"]  # fmt: skip
    cli = [sys.executable, "-m", "core"]
    tls = ["--tls-ca", files.ca_file, "--tls-cert", files.cert_file, "--tls-key", files.key_file]
    remote = subprocess.run([*cli, *args, "--scheduler", address, *tls], cwd=ROOT, capture_output=True, text=True)
    assert remote.returncode == 0, remote.stderr
    local = subprocess.run([*cli, *args], cwd=ROOT, capture_output=True, text=True)
    acc = [[r["accuracies"] for r in json.loads(p.stdout)["rows"]] for p in (remote, local)]
    assert acc[0] == acc[1] and len(acc[0]) == 2
    # the same scheduler without the files: one line naming them, before anything runs
    bare = subprocess.run([*cli, *args, "--scheduler", address], cwd=ROOT, capture_output=True, text=True)
    assert bare.returncode == 2 and "needs --tls-ca, --tls-cert and --tls-key" in bare.stderr
    with pytest.raises(ParameterError, match="tls-key: must name an existing PEM file"):
        connect(address, 2, TlsFiles(files.ca_file, files.cert_file, str(tmp_path / "missing.key")))
    with pytest.raises(ParameterError, match="not a tls:// address"):
        connect("tcp://127.0.0.1:9", 2, files)
