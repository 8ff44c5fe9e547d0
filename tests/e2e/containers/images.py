"""What the container tests run against, made on this machine (no registry on the internet is
reached): a tiny image (`FROM scratch`, a static busybox and its applets, an /etc/os-release of its
own, `WORKDIR /imagedir`) in root's podman storage, shared with Batchite's engine, and a local
registry (Debian's docker-registry, plain HTTP on loopback, htpasswd logins) the image is pushed to."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import httpx

from batchite.cli.server import terminate

TEST_IMAGE = "localhost/batchite-test:1"
IMAGE_WORKDIR = "/imagedir"
OS_RELEASE = 'ID=batchite-test\nNAME="Batchite test image"\n'
# Without `default_ulimits = []` Debian's podman 4.3 cannot start a container here ("error setting
# rlimit"); runc, not crun, is the runtime installed.
CONTAINERS_CONF = '[containers]\ndefault_ulimits = []\n[engine]\nruntime = "/usr/sbin/runc"\n'
CONTAINERFILE = f"""FROM scratch
COPY busybox /bin/busybox
COPY os-release /etc/os-release
RUN ["/bin/busybox", "--install", "-s", "/bin"]
WORKDIR {IMAGE_WORKDIR}
"""
BUSYBOX_PATHS = ("/usr/bin/busybox", "/bin/busybox")


class Unavailable(Exception):
    """What the container tests need is not on this machine (the tests skip, saying what)."""


def missing_engine() -> str | None:
    """Why container tasks cannot run here, or None."""
    missing = [c for c in ("podman", "runc") if shutil.which(c) is None and not Path(f"/usr/sbin/{c}").exists()]
    if missing:
        return f"container tests need {' and '.join(missing)} (scripts/system-packages installs them, as root)"
    return None


def static_busybox() -> Path:
    """Debian's busybox-static (a busybox that needs a dynamic loader cannot run in `FROM scratch`)."""
    for candidate in BUSYBOX_PATHS:
        path = Path(candidate)
        if path.is_file() and _is_static(path):
            return path
    raise Unavailable("container tests need a static busybox (Debian's busybox-static)")


def _is_static(path: Path) -> bool:
    """No PT_INTERP program header: the ELF file runs without a loader."""
    data = path.read_bytes()[:65536]
    if data[:4] != b"\x7fELF" or data[4] != 2:  # 64-bit ELF only
        return False
    order: Literal["little", "big"] = "little" if data[5] == 1 else "big"
    phoff = int.from_bytes(data[32:40], order)
    phentsize = int.from_bytes(data[54:56], order)
    phnum = int.from_bytes(data[56:58], order)
    for i in range(phnum):
        start = phoff + i * phentsize
        if int.from_bytes(data[start : start + 4], order) == 3:  # PT_INTERP
            return False
    return True


def write_conf(directory: Path) -> Path:
    conf = directory / "containers.conf"
    conf.write_text(CONTAINERS_CONF)
    return conf


def podman(conf: Path, *args: str, check: bool = True, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    """podman with the tests' containers.conf (build, push, rmi: what Batchite does not do itself)."""
    env = dict(os.environ, CONTAINERS_CONF=str(conf))
    done = subprocess.run(["podman", *args], env=env, capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise RuntimeError(f"podman {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
    return done


def build_test_image(conf: Path, directory: Path, tag: str = TEST_IMAGE) -> str:
    """Builds `tag` from the static busybox (under a second); answers the tag."""
    context = directory / "image"
    context.mkdir(parents=True, exist_ok=True)
    shutil.copy2(static_busybox(), context / "busybox")
    (context / "os-release").write_text(OS_RELEASE)
    (context / "Containerfile").write_text(CONTAINERFILE)
    podman(conf, "build", "--quiet", "--tag", tag, "--file", str(context / "Containerfile"), str(context))
    return tag


def remove_images(conf: Path, refs: Sequence[str]) -> None:
    """Untags `refs` from local storage (those a container still uses stay: no error)."""
    if refs:
        podman(conf, "rmi", "--ignore", *refs, check=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def htpasswd_line(user: str, password: str) -> str:
    """A bcrypt htpasswd entry (docker-registry takes no other kind)."""
    if shutil.which("htpasswd"):
        done = subprocess.run(["htpasswd", "-Bbn", user, password], capture_output=True, text=True, check=True)
        return done.stdout.strip() + "\n"
    try:
        import bcrypt  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        raise Unavailable("the registry tests need htpasswd (Debian's apache2-utils) or python bcrypt") from None
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=5)).decode()
    return f"{user}:{hashed}\n"


class Registry:
    """A docker-registry on 127.0.0.1 (plain HTTP), anonymous pulls refused; `push` makes an image
    of it under a new name and takes the local copy away, so that whoever runs it must pull."""

    def __init__(self, directory: Path, conf: Path, username: str = "batchite", password: str = "s3cret-pw") -> None:
        if shutil.which("docker-registry") is None:
            raise Unavailable("the registry tests need docker-registry (Debian's docker-registry)")
        self.conf = conf
        self.username = username
        self.password = password
        self.port = free_port()
        self.server = f"127.0.0.1:{self.port}"
        self.pushed: list[str] = []
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "data").mkdir(exist_ok=True)
        (directory / "htpasswd").write_text(htpasswd_line(username, password))
        config = directory / "config.yml"
        config.write_text(
            "version: 0.1\n"
            "log:\n  level: warn\n"
            f"storage:\n  filesystem:\n    rootdirectory: {directory / 'data'}\n"
            f"http:\n  addr: {self.server}\n"
            f"auth:\n  htpasswd:\n    realm: batchite-test\n    path: {directory / 'htpasswd'}\n"
        )
        self.log = (directory / "registry.log").open("wb")
        self.process = subprocess.Popen(
            ["docker-registry", "serve", str(config)], stdout=self.log, stderr=subprocess.STDOUT
        )
        self._wait_up()

    def _wait_up(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"docker-registry exited ({self.process.returncode}); see {self.log.name}")
            try:
                if httpx.get(f"http://{self.server}/v2/", timeout=1).status_code == 401:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"docker-registry not answering on {self.server} within {timeout}s")

    def push(self, source: str, repository: str = "batchite/test") -> str:
        """Pushes `source` as a new tag of `repository`; answers its reference (not in local storage)."""
        ref = f"{self.server}/{repository}:{uuid.uuid4().hex[:10]}"
        creds = f"{self.username}:{self.password}"
        podman(self.conf, "push", "--quiet", "--tls-verify=false", "--creds", creds, source, ref)
        self.pushed.append(ref)
        remove_images(self.conf, [ref])
        return ref

    def anonymous_pull_refused(self, ref: str) -> bool:
        done = podman(self.conf, "pull", "--quiet", "--tls-verify=false", ref, check=False)
        if done.returncode == 0:
            remove_images(self.conf, [ref])
        return done.returncode != 0

    def stop(self) -> None:
        remove_images(self.conf, self.pushed)  # what the tests' pulls left in the shared storage
        terminate(self.process)
        self.log.close()
