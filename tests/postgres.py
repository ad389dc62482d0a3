"""A throwaway PostgreSQL server on loopback for the gradebook tests (Debian's package,
installed by `make postgres`): its own data folder, port and socket folder, stopped after."""

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy

from tests.helpers import stop


def binaries():
    """The folder of initdb and postgres, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def unavailable():
    if binaries() is None:
        return "no PostgreSQL server: `make postgres` installs Debian's postgresql"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root, and no postgres user to run the server as"
    return None


def _as_server_user(command):
    # PostgreSQL refuses to run as root: as root, run it as Debian's postgres user.
    return (["runuser", "-u", "postgres", "--"] + command) if os.geteuid() == 0 else command


@contextmanager
def server(log_folder):
    """Yields the SQLAlchemy URL of a fresh database on a server of our own (its log goes
    to `log_folder`)."""
    # Its files live where the postgres user can reach them (pytest's folders are root's, 0700).
    folder = Path(tempfile.mkdtemp(prefix="ag-postgres-"))
    data, sockets = folder / "data", folder / "sockets"
    sockets.mkdir()
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        for path in (folder, sockets):
            shutil.chown(path, user.pw_uid, user.pw_gid)
    bin_dir = binaries()
    subprocess.run(_as_server_user([str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                                    "--no-sync"]), check=True, capture_output=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(Path(log_folder) / "server.log", "w")
    process = subprocess.Popen(_as_server_user([str(bin_dir / "postgres"), "-D", str(data), "-p", str(port),
                                                "-k", str(sockets), "-c", "listen_addresses=127.0.0.1",
                                                "-c", "fsync=off"]), stdout=log, stderr=subprocess.STDOUT)
    admin = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                engine = sqlalchemy.create_engine(admin, isolation_level="AUTOCOMMIT")
                with engine.connect() as connection:
                    connection.execute(sqlalchemy.text("CREATE DATABASE gradebook"))
                engine.dispose()
                break
            except sqlalchemy.exc.OperationalError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"PostgreSQL did not start: see {log.name}")
                time.sleep(0.2)
        yield f"postgresql://postgres@127.0.0.1:{port}/gradebook"
    finally:
        stop(process)
        log.close()
        shutil.rmtree(folder, ignore_errors=True)
