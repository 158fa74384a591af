"""CURVE security for the pool: key files, socket configuration and the ZAP authenticator.

Who uses what::

    python -m tuner keys DIR          generate_keys(DIR)  ->  DIR/broker.key, broker.key_secret,
                                                              worker.key, worker.key_secret,
                                                              authorized/worker.key
    broker (server side)              keys = load_server_keys(DIR)
                                      with Authenticator(ctx, keys):      # ZAP handler first
                                          configure_server(router, keys)  # then CURVE, then bind
                                          router.bind(...)
    worker (client side)              keys = load_client_keys(DIR)
                                      configure_client(dealer, keys)      # before connect
                                      dealer.connect(...)

Why the order matters: a CURVE server whose context has no ZAP handler admits *any* client
that knows the server's public key (and a public key is public).  :func:`configure_server`
therefore refuses a socket whose context has no running :class:`Authenticator`: the pool
fails closed instead of silently accepting everyone.  Peers that fail the handshake (wrong
key, key not in ``authorized/``, no CURVE at all) are dropped by libzmq before any frame is
delivered to the socket, so the broker never decodes, let alone unpickles, their data.

Key files use the ZeroMQ certificate format (``zmq.auth.load_certificate`` and czmq's
``zcert`` read them).  Every foreign failure (``OSError``, ``ValueError``, ``zmq.ZMQError``)
is translated to :class:`tuner.errors.AuthError` naming the file, with the cause chained.
Nothing here creates sockets or threads at import time.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import errno
import logging
import os
import re
import shlex
import sys
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import zmq
import zmq.auth.thread
from zmq.utils import z85

from .errors import AuthError

__all__ = [
    "AUTHORIZED_DIR",
    "BROKER_NAME",
    "WORKER_NAME",
    "Authenticator",
    "ClientKeys",
    "KeyPaths",
    "ServerKeys",
    "configure_client",
    "configure_server",
    "generate_keys",
    "keys_main",
    "load_authorized_keys",
    "load_client_keys",
    "load_server_keys",
]

log = logging.getLogger(__name__)

BROKER_NAME: Final = "broker"
"""Base name of the broker's (CURVE server's) key files: ``broker.key``, ``broker.key_secret``."""
WORKER_NAME: Final = "worker"
"""Base name of the worker's (CURVE client's) key files: ``worker.key``, ``worker.key_secret``."""
AUTHORIZED_DIR: Final = "authorized"
"""Sub-directory holding the ``*.key`` public keys of the clients the broker admits."""

_PUBLIC_SUFFIX: Final = ".key"
_SECRET_SUFFIX: Final = ".key_secret"
_MAX_KEY_FILE_BYTES: Final = 64 * 1024  # a certificate is ~300 bytes; anything huge is not one
_Z85_KEY: Final = re.compile(rb"[0-9a-zA-Z.\-:+=^!/*?&<>()\[\]{}@%$#]{40}\Z")
_KEY_LINE: Final = re.compile(r"\s*(public-key|secret-key)\s*=\s*(.*?)\s*\Z")
_MISSING_HINT: Final = " (create keys with: python -m tuner keys DIR)"
_ZAP_REBIND_WAIT_S: Final = 2.0  # see Authenticator._start_zap_thread
_WORKER_COMMAND: Final = "python -m tuner worker --connect tcp://HOST:PORT --keys {dir}"

_SECRET_BANNER: Final = """\
#   ****  Generated on {now} by tuner (python -m tuner keys)  ****
#   ZeroMQ CURVE **Secret** Certificate
#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.

"""
_PUBLIC_BANNER: Final = """\
#   ****  Generated on {now} by tuner (python -m tuner keys)  ****
#   ZeroMQ CURVE Public Certificate
#   Exchange securely, or use a secure mechanism to verify the contents
#   of this file after exchange.

"""


# ---------------------------------------------------------------------------------------------
# Records
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeyPaths:
    """Where :func:`generate_keys` wrote a pool's keys.

    Attributes
    ----------
    directory : Path
        The key directory (``python -m tuner keys DIR``).
    broker_public, broker_secret : Path
        The broker's certificate files; the secret one is mode 0600.
    worker_public, worker_secret : Path
        The worker's certificate files; the secret one is mode 0600.  A remote worker host
        needs ``broker.key`` and ``worker.key_secret`` (never ``broker.key_secret``).
    authorized : Path
        Directory of the client public keys the broker admits.
    authorized_worker : Path
        The worker's public key, copied into ``authorized``.
    """

    directory: Path
    broker_public: Path
    broker_secret: Path
    worker_public: Path
    worker_secret: Path
    authorized: Path
    authorized_worker: Path

    @classmethod
    def of(cls, directory: str | os.PathLike[str]) -> KeyPaths:
        """The layout of a key directory (nothing is read or checked)."""
        d = Path(directory)
        auth = d / AUTHORIZED_DIR
        return cls(
            directory=d,
            broker_public=d / (BROKER_NAME + _PUBLIC_SUFFIX),
            broker_secret=d / (BROKER_NAME + _SECRET_SUFFIX),
            worker_public=d / (WORKER_NAME + _PUBLIC_SUFFIX),
            worker_secret=d / (WORKER_NAME + _SECRET_SUFFIX),
            authorized=auth,
            authorized_worker=auth / (WORKER_NAME + _PUBLIC_SUFFIX),
        )

    def files(self) -> tuple[Path, ...]:
        """The five key files, in the order they are written."""
        return (
            self.broker_public,
            self.broker_secret,
            self.worker_public,
            self.worker_secret,
            self.authorized_worker,
        )


@dataclass(frozen=True, slots=True)
class ServerKeys:
    """The broker's side: its keypair and the directory of admitted client keys.

    Keys are 40-character Z85 ``bytes``, as ZeroMQ's socket options take them.  The secret
    is left out of ``repr`` so that logging a record never leaks it.
    """

    public: bytes
    secret: bytes = field(repr=False)
    authorized: Path


@dataclass(frozen=True, slots=True)
class ClientKeys:
    """A worker's side: its keypair and the broker's public key (which it verifies)."""

    public: bytes
    secret: bytes = field(repr=False)
    server_public: bytes


# ---------------------------------------------------------------------------------------------
# Key files
# ---------------------------------------------------------------------------------------------


def _check_z85_key(value: bytes, what: str, path: Path) -> bytes:
    """``value`` if it is a valid 40-character Z85 CURVE key, else AuthError naming ``path``."""
    if not _Z85_KEY.match(value):
        raise AuthError(
            f"corrupt key file {path}: {what} is not a 40-character Z85 CURVE key", path=str(path)
        )
    try:
        raw = z85.decode(value)
    except Exception as exc:  # z85 raises ValueError, KeyError or struct.error on bad input
        raise AuthError(
            f"corrupt key file {path}: {what} does not decode as Z85", path=str(path)
        ) from exc
    if len(raw) != 32:  # pragma: no cover - 40 Z85 characters always decode to 32 bytes
        raise AuthError(f"corrupt key file {path}: {what} is not 32 bytes", path=str(path))
    return value


def _read_key_file(path: Path, *, secret: bool) -> tuple[bytes, bytes | None]:
    """Parse one certificate file into ``(public, secret or None)``, checking everything.

    A secret certificate must hold both keys, and the public key must be the one derived
    from the secret (a mismatch means the file was edited or mixed up).
    """
    kind = "secret key file" if secret else "key file"
    try:
        with open(path, "rb") as f:
            data = f.read(_MAX_KEY_FILE_BYTES + 1)
    except FileNotFoundError as exc:
        raise AuthError(f"missing {kind} {path}{_MISSING_HINT}", path=str(path)) from exc
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise AuthError(f"cannot read {kind} {path}: {reason}", path=str(path)) from exc
    if len(data) > _MAX_KEY_FILE_BYTES:
        raise AuthError(
            f"corrupt key file {path}: larger than {_MAX_KEY_FILE_BYTES} bytes", path=str(path)
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AuthError(f"corrupt key file {path}: not UTF-8 text", path=str(path)) from exc
    found: dict[str, bytes] = {}
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        m = _KEY_LINE.match(line)
        if m is None:
            continue
        name, value = m.group(1), m.group(2)
        if name in found:
            raise AuthError(f"corrupt key file {path}: {name} appears twice", path=str(path))
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        found[name] = value.encode("utf-8")
    if "public-key" not in found:
        raise AuthError(f"corrupt key file {path}: no public-key line", path=str(path))
    public = _check_z85_key(found["public-key"], "public-key", path)
    if not secret:
        return public, None
    if "secret-key" not in found:
        raise AuthError(
            f"corrupt key file {path}: no secret-key line (is this a public key file?)",
            path=str(path),
        )
    secret_key = _check_z85_key(found["secret-key"], "secret-key", path)
    try:
        derived = zmq.curve_public(secret_key)
    except (zmq.ZMQError, ValueError) as exc:
        raise AuthError(f"corrupt key file {path}: unusable secret-key", path=str(path)) from exc
    if derived != public:
        raise AuthError(
            f"corrupt key file {path}: public-key does not match secret-key", path=str(path)
        )
    return public, secret_key


def _certificate_text(public: bytes, secret: bytes | None) -> str:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    banner = (_SECRET_BANNER if secret is not None else _PUBLIC_BANNER).format(now=now)
    lines = [banner, "metadata\n", "curve\n", f'    public-key = "{public.decode("ascii")}"\n']
    if secret is not None:
        lines.append(f'    secret-key = "{secret.decode("ascii")}"\n')
    return "".join(lines)


def _write_key_file(path: Path, text: str, *, secret: bool, overwrite: bool) -> None:
    """Write ``text`` to ``path`` atomically; a secret file is 0600 from its first byte.

    The file is written to a temporary name in the same directory (``mkstemp`` creates it
    0600), then moved into place: ``os.replace`` when overwriting, else ``os.link``, which
    fails if ``path`` appeared meanwhile, so an existing key is never clobbered by accident.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600 if secret else 0o644)
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise
            except OSError:  # a file system without hard links: check, then move
                if os.path.lexists(path):
                    raise FileExistsError(errno.EEXIST, "File exists", str(path)) from None
                os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):  # moved into place by os.replace
            os.unlink(tmp)


def generate_keys(directory: str | os.PathLike[str], *, overwrite: bool = False) -> KeyPaths:
    """Create a pool's CURVE keys in ``directory`` (created, mode 0700, if missing).

    Writes a fresh keypair for the broker (the CURVE server) and one for workers (the
    client), and copies the worker's public key into ``authorized/`` so the broker admits
    it.  Secret key files are mode 0600; public ones 0644.  Other ``*.key`` files already in
    ``authorized/`` (keys of other workers you added) are left alone.

    Parameters
    ----------
    directory : path
        The key directory.
    overwrite : bool
        Replace existing keys.  Without it, any existing key file is an error and nothing
        is written.  Replacing keys locks out workers still holding the old ones.

    Returns
    -------
    KeyPaths
        Where each file was written.

    Raises
    ------
    AuthError
        A key file exists (and ``overwrite`` is false), or a directory or file cannot be
        created; the message names the path.
    """
    paths = KeyPaths.of(directory)
    for d in (paths.directory, paths.authorized):
        try:
            d.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise AuthError(f"cannot create key directory {d}: {reason}", path=str(d)) from exc
    if not overwrite:
        for p in paths.files():
            if os.path.lexists(p):
                raise AuthError(
                    f"key file {p} already exists: refusing to overwrite keys "
                    "(use --force, or generate_keys(..., overwrite=True))",
                    path=str(p),
                )
    try:
        broker_public, broker_secret = zmq.curve_keypair()
        worker_public, worker_secret = zmq.curve_keypair()
    except zmq.ZMQError as exc:  # libzmq built without CURVE
        raise AuthError(f"cannot generate CURVE keys: {exc}") from exc
    plan = [
        (paths.broker_public, broker_public, None),
        (paths.broker_secret, broker_public, broker_secret),
        (paths.worker_public, worker_public, None),
        (paths.worker_secret, worker_public, worker_secret),
        (paths.authorized_worker, worker_public, None),
    ]
    written: list[Path] = []
    for path, public, secret in plan:
        try:
            _write_key_file(
                path,
                _certificate_text(public, secret),
                secret=secret is not None,
                overwrite=overwrite,
            )
        except OSError as exc:
            if not overwrite:  # leave no half-made set behind that would block the next run
                for done in written:
                    done.unlink(missing_ok=True)
            if isinstance(exc, FileExistsError):  # appeared since the check above
                message = f"key file {path} already exists: refusing to overwrite keys"
            else:
                message = f"cannot write key file {path}: {exc.strerror or exc}"
            raise AuthError(message, path=str(path)) from exc
        written.append(path)
    return paths


def _existing_directory(directory: str | os.PathLike[str]) -> Path:
    d = Path(directory)
    if not d.is_dir():
        what = "is not a directory" if d.exists() else "does not exist"
        raise AuthError(f"key directory {d} {what}{_MISSING_HINT}", path=str(d))
    return d


def load_server_keys(directory: str | os.PathLike[str]) -> ServerKeys:
    """The broker's keys from a key directory: ``broker.key_secret`` and ``authorized/``.

    Raises
    ------
    AuthError
        The directory, ``broker.key_secret`` or ``authorized/`` is missing, or the key file
        is unreadable or corrupt; the message names the path.
    """
    paths = KeyPaths.of(_existing_directory(directory))
    public, secret = _read_key_file(paths.broker_secret, secret=True)
    assert secret is not None  # _read_key_file(secret=True) returns a secret or raises
    if not paths.authorized.is_dir():
        raise AuthError(
            f"missing directory of authorized worker keys {paths.authorized}{_MISSING_HINT}",
            path=str(paths.authorized),
        )
    return ServerKeys(public=public, secret=secret, authorized=paths.authorized)


def load_client_keys(directory: str | os.PathLike[str]) -> ClientKeys:
    """A worker's keys from a key directory: ``worker.key_secret`` and ``broker.key``.

    Only those two files are needed on a remote worker's host.

    Raises
    ------
    AuthError
        The directory or a key file is missing, unreadable or corrupt; the message names
        the path.
    """
    paths = KeyPaths.of(_existing_directory(directory))
    public, secret = _read_key_file(paths.worker_secret, secret=True)
    assert secret is not None  # _read_key_file(secret=True) returns a secret or raises
    server_public, _ = _read_key_file(paths.broker_public, secret=False)
    return ClientKeys(public=public, secret=secret, server_public=server_public)


def load_authorized_keys(authorized: str | os.PathLike[str]) -> frozenset[bytes]:
    """The Z85 public keys of every ``*.key`` file in ``authorized`` (other files ignored).

    Raises
    ------
    AuthError
        The directory is missing or unreadable, it holds no ``*.key`` file (no worker could
        ever connect, which is a mistake rather than a policy), or a key file is corrupt.
    """
    d = Path(authorized)
    try:
        entries = sorted(p for p in d.iterdir() if p.name.endswith(_PUBLIC_SUFFIX))
    except FileNotFoundError as exc:
        raise AuthError(
            f"missing directory of authorized worker keys {d}{_MISSING_HINT}", path=str(d)
        ) from exc
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise AuthError(f"cannot list authorized keys in {d}: {reason}", path=str(d)) from exc
    if not entries:
        raise AuthError(
            f"no authorized worker keys (*.key files) in {d}: no worker could connect",
            path=str(d),
        )
    return frozenset(_read_key_file(p, secret=False)[0] for p in entries)


# ---------------------------------------------------------------------------------------------
# Sockets
# ---------------------------------------------------------------------------------------------

_zap_lock = threading.Lock()
_zap_contexts: dict[int, Authenticator] = {}  # id(context) -> its running Authenticator


def _check_not_connected(socket: zmq.Socket[Any], before: str) -> None:
    try:
        endpoint = socket.getsockopt(zmq.LAST_ENDPOINT)
    except zmq.ZMQError as exc:
        raise AuthError(f"cannot configure CURVE on socket {socket!r}: {exc}") from exc
    if endpoint:
        raise AuthError(
            f"CURVE must be configured before {before}: the socket is already on "
            f"{endpoint.decode('utf-8', 'replace')}"
        )


def configure_server(socket: zmq.Socket[Any], keys: ServerKeys) -> None:
    """Make ``socket`` a CURVE server with the broker's keys.  Call it BEFORE ``bind``.

    Requires an :class:`Authenticator` running on the socket's context: without a ZAP
    handler libzmq would admit every client that knows the server's public key.

    Raises
    ------
    AuthError
        The socket is already bound or connected, no Authenticator runs on its context, or
        ZeroMQ rejects the options (the ``zmq.ZMQError`` is the cause).
    """
    _check_not_connected(socket, "bind")
    with _zap_lock:
        auth = _zap_contexts.get(id(socket.context))
    if auth is None:
        raise AuthError(
            "no Authenticator is running on this socket's context: start one first "
            "(with Authenticator(context, keys): ...), otherwise any client knowing the "
            "broker's public key would be admitted"
        )
    try:
        socket.curve_secretkey = keys.secret
        socket.curve_publickey = keys.public
        socket.curve_server = True
    except zmq.ZMQError as exc:
        raise AuthError(f"cannot configure the CURVE server socket: {exc}") from exc
    auth._servers.add(socket)


def configure_client(socket: zmq.Socket[Any], keys: ClientKeys) -> None:
    """Make ``socket`` a CURVE client that verifies the broker.  Call it BEFORE ``connect``.

    Raises
    ------
    AuthError
        The socket is already connected or bound, or ZeroMQ rejects the options.
    """
    _check_not_connected(socket, "connect")
    try:
        socket.curve_serverkey = keys.server_public
        socket.curve_publickey = keys.public
        socket.curve_secretkey = keys.secret
    except zmq.ZMQError as exc:
        raise AuthError(f"cannot configure the CURVE client socket: {exc}") from exc


class _KeySet:
    """ZAP credentials provider: admits exactly the keys it holds (``configure_curve_callback``).

    ``callback`` runs on the authenticator's thread; ``keys`` is replaced as a whole (one
    reference assignment), so a reload is atomic for it.  Refusals are logged at warning
    level once per key.
    """

    _MAX_LOGGED: Final = 1024

    def __init__(self, keys: frozenset[bytes]) -> None:
        self.keys = keys
        self.refused = 0
        self._logged: set[bytes] = set()

    def callback(self, domain: str, key: bytes) -> bool:
        if key in self.keys:
            return True
        self.refused += 1
        if key not in self._logged and len(self._logged) < self._MAX_LOGGED:
            self._logged.add(key)
            log.warning(
                "refused a CURVE client whose public key %s is not authorized",
                key.decode("ascii", "replace"),
            )
        return False


class Authenticator:
    """The ZAP handler of a broker's context: admits only the client keys in ``authorized/``.

    Wraps ``zmq.auth.thread.ThreadAuthenticator``.  Start it before configuring and binding
    the CURVE server socket; close that socket before stopping it (with no ZAP handler,
    libzmq admits any client that knows the broker's public key; :meth:`stop` logs a
    warning if it finds one open); stop it before terminating the context (its two internal
    sockets keep ``Context.term()`` waiting otherwise).  Use it as a context manager::

        with Authenticator(ctx, keys):
            configure_server(router, keys)
            router.bind(endpoint)
            ...
            router.close()
        ctx.term()

    The keys are read and checked by :func:`load_authorized_keys` at :meth:`start` (so a
    corrupt file fails there, naming the file); :meth:`reload` re-reads them.  Matching uses
    ``configure_curve_callback`` with that checked set rather than ``configure_curve``, which
    re-reads the directory with a laxer parser, logs and ignores errors, and treats the
    path as a glob pattern.

    Parameters
    ----------
    context : zmq.Context
        The broker's context; only one authenticator can run per context.
    keys : ServerKeys or path
        The broker's keys (their ``authorized`` directory is used) or the directory itself.
    """

    def __init__(
        self, context: zmq.Context[Any], keys: ServerKeys | str | os.PathLike[str]
    ) -> None:
        self.context = context
        self.authorized = keys.authorized if isinstance(keys, ServerKeys) else Path(keys)
        self._auth: zmq.auth.thread.ThreadAuthenticator | None = None
        self._keys = _KeySet(frozenset())
        self._lock = threading.Lock()
        # CURVE server sockets configured under this authenticator, to warn if one is
        # still open at stop(): libzmq admits every client when no ZAP handler runs.
        self._servers: weakref.WeakSet[zmq.Socket[Any]] = weakref.WeakSet()

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._auth is not None

    @property
    def authorized_keys(self) -> frozenset[bytes]:
        """The Z85 public keys currently admitted."""
        return self._keys.keys

    @property
    def refused(self) -> int:
        """How many CURVE handshakes were refused for an unknown client key."""
        return self._keys.refused

    def start(self) -> Authenticator:
        """Load ``authorized/`` and start the ZAP thread; returns ``self``.

        Raises
        ------
        AuthError
            Already running, the context is closed, another authenticator runs on it, or
            the authorized keys are missing or corrupt.
        """
        with self._lock:
            if self._auth is not None:
                raise AuthError("the Authenticator is already running")
            if self.context.closed:
                raise AuthError("cannot start an Authenticator on a terminated context")
            self._keys.keys = load_authorized_keys(self.authorized)
            with _zap_lock:
                if id(self.context) in _zap_contexts:
                    raise AuthError("another Authenticator is already running on this context")
                auth = self._start_zap_thread()
                auth.configure_curve_callback(domain="*", credentials_provider=self._keys)
                auth.thread.name = "tuner-zap-authenticator"
                self._auth = auth
                _zap_contexts[id(self.context)] = self
        return self

    def _start_zap_thread(self) -> zmq.auth.thread.ThreadAuthenticator:
        # libzmq releases the ZAP endpoint (inproc://zeromq.zap.01) of a just-closed handler
        # asynchronously, so a restart on the same context can briefly find it in use: retry
        # for a short while.  Still in use after that means a ZAP handler that is not ours.
        deadline = time.monotonic() + _ZAP_REBIND_WAIT_S
        while True:
            auth = zmq.auth.thread.ThreadAuthenticator(
                self.context, log=logging.getLogger(__name__ + ".zap")
            )
            try:
                auth.start()
                return auth
            except (zmq.ZMQError, RuntimeError) as exc:
                auth.stop()
                busy = isinstance(exc, zmq.ZMQError) and exc.errno == zmq.EADDRINUSE
                if busy and time.monotonic() < deadline:
                    time.sleep(0.01)
                    continue
                if busy:
                    raise AuthError(
                        "another ZAP handler is bound on this context "
                        "(inproc://zeromq.zap.01): only one can run per context"
                    ) from exc
                raise AuthError(f"cannot start the ZAP authenticator: {exc}") from exc

    def reload(self) -> int:
        """Re-read ``authorized/`` (after adding or removing a worker key); returns the count.

        On error the previous keys stay in force.
        """
        keys = load_authorized_keys(self.authorized)
        self._keys.keys = keys
        return len(keys)

    def stop(self) -> None:
        """Stop the ZAP thread and close its sockets.  Idempotent; never raises.

        Call it before ``Context.term()`` (which waits for the authenticator's sockets) and
        before ``Context.destroy()`` (which would strand pyzmq's ZAP thread), but after
        closing the CURVE server sockets: with no ZAP handler, libzmq admits any client that
        knows the broker's public key on a socket still open.
        """
        with self._lock:
            auth, self._auth = self._auth, None
            if auth is None:
                return
            with _zap_lock:
                if _zap_contexts.get(id(self.context)) is self:
                    del _zap_contexts[id(self.context)]
            still_open = sum(1 for s in list(self._servers) if not s.closed)
            self._servers = weakref.WeakSet()
            if still_open:
                self._keys.keys = frozenset()  # refuse any handshake racing the stop
                log.warning(
                    "Authenticator stopped while %d CURVE server socket(s) are open: without "
                    "a ZAP handler libzmq admits any client that knows the broker's public "
                    "key; close the sockets before stopping the authenticator",
                    still_open,
                )
            if self.context.closed:
                # Context.destroy() closed the thread's sockets under it: pyzmq's thread then
                # waits forever (a daemon thread, so it does not block exit). Nothing can
                # wake it; say so instead of hanging in join.
                log.warning(
                    "the context was destroyed before Authenticator.stop(): its ZAP thread "
                    "is left waiting; stop the authenticator before closing the context"
                )
                return
            thread = auth.thread
            try:
                auth.stop()
            except zmq.ZMQError as exc:
                log.warning("ZAP authenticator stopped uncleanly: %s", exc)
            if thread is not None:
                thread.join(timeout=5.0)
                if thread.is_alive():  # pragma: no cover - the thread answers TERMINATE
                    log.warning("ZAP authenticator thread did not stop within 5 s")

    def __enter__(self) -> Authenticator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return (
            f"<Authenticator {state} authorized={str(self.authorized)!r} "
            f"keys={len(self.authorized_keys)} refused={self.refused}>"
        )


# ---------------------------------------------------------------------------------------------
# python -m tuner keys
# ---------------------------------------------------------------------------------------------


def _keys_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tuner keys",
        description=(
            "Create CURVE keys for a pool that accepts remote workers: the broker's keypair, "
            "a worker keypair, and authorized/ holding the public keys of admitted workers."
        ),
    )
    parser.add_argument("directory", metavar="DIR", help="key directory (created if missing)")
    parser.add_argument(
        "--force", action="store_true", help="replace existing keys (locks out old workers)"
    )
    return parser


def keys_main(argv: list[str] | None = None) -> int:
    """``python -m tuner keys DIR [--force]``: exit 0 on success, 1 on error, 2 on bad usage."""
    parser = _keys_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad usage, 0 on --help
        return int(exc.code or 0)
    try:
        paths = generate_keys(args.directory, overwrite=args.force)
    except AuthError as exc:
        print(f"tuner keys: error: {exc}", file=sys.stderr)
        return 1
    directory = paths.directory.resolve()
    print(f"wrote CURVE keys to {directory}:")
    print(
        f"  broker (keep on the pool's machine): {paths.broker_public.name}, "
        f"{paths.broker_secret.name} (secret, mode 0600)"
    )
    print(f"  worker: {paths.worker_public.name}, {paths.worker_secret.name} (secret, mode 0600)")
    print(f"  admitted worker keys: {AUTHORIZED_DIR}/{paths.authorized_worker.name}")
    print("Start the pool with curve_keys_dir set to this directory and a non-loopback bind.")
    print(
        f"On each remote worker host, copy {paths.broker_public.name} and "
        f"{paths.worker_secret.name} (never {paths.broker_secret.name}) to {directory}, "
        "then run:"
    )
    print("  " + _WORKER_COMMAND.format(dir=shlex.quote(str(directory))))
    return 0
