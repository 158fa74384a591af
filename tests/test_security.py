"""CURVE security (tuner.security): key files, the keys command, and real sockets over TCP.

Every socket has LINGER=0, every receive waits through ``poll`` with a timeout, each test's
context is terminated at its end, and no authenticator thread may outlive a test.
"""

from __future__ import annotations

import logging
import stat
import subprocess
import sys
import threading

import pytest
import zmq
import zmq.auth
import zmq.auth.thread

from tuner.errors import AuthError, TunerError
from tuner.security import (
    Authenticator,
    ClientKeys,
    KeyPaths,
    ServerKeys,
    configure_client,
    configure_server,
    generate_keys,
    keys_main,
    load_authorized_keys,
    load_client_keys,
    load_server_keys,
)

REFUSE_WAIT_MS = 1500  # how long a refused peer's message is waited for
ARRIVE_WAIT_MS = 10_000  # generous bound for a message that must arrive


def _auth_threads() -> list[threading.Thread]:
    return [
        t
        for t in threading.enumerate()
        if isinstance(t, zmq.auth.thread.AuthenticationThread) and t.is_alive()
    ]


@pytest.fixture(autouse=True)
def no_authenticator_thread_survives():
    assert _auth_threads() == []
    yield
    assert _auth_threads() == [], "an authenticator thread outlived the test"


@pytest.fixture
def ctx():
    context = zmq.Context()
    context.linger = 0
    yield context
    context.destroy(linger=0)  # closes anything a failing test left open, then terminates
    assert context.closed


@pytest.fixture
def keydir(tmp_path):
    generate_keys(tmp_path / "keys")
    return tmp_path / "keys"


def _socket(ctx: zmq.Context, kind: int) -> zmq.Socket:
    s = ctx.socket(kind)
    s.linger = 0
    return s


def _recv(sock: zmq.Socket, timeout_ms: int) -> list[bytes] | None:
    """One multipart message, or None if nothing arrived within ``timeout_ms``."""
    if sock.poll(timeout_ms, zmq.POLLIN):
        return sock.recv_multipart(zmq.NOBLOCK)
    return None


def _server(ctx: zmq.Context, keys: ServerKeys) -> tuple[zmq.Socket, str]:
    router = _socket(ctx, zmq.ROUTER)
    configure_server(router, keys)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    return router, f"tcp://127.0.0.1:{port}"


def _client(ctx: zmq.Context, endpoint: str, keys: ClientKeys | None) -> zmq.Socket:
    dealer = _socket(ctx, zmq.DEALER)
    if keys is not None:
        configure_client(dealer, keys)
    dealer.connect(endpoint)
    return dealer


def _monitor(sock: zmq.Socket, events: int) -> zmq.Socket:
    monitor = sock.get_monitor_socket(events)
    monitor.linger = 0
    return monitor


def _stranger_keys(tmp_path, server_public: bytes) -> ClientKeys:
    """A CURVE client that knows the broker's public key but is not in authorized/."""
    other = generate_keys(tmp_path / "stranger")
    mine = load_client_keys(other.directory)
    return ClientKeys(public=mine.public, secret=mine.secret, server_public=server_public)


# ---------------------------------------------------------------------------------------------
# Real sockets
# ---------------------------------------------------------------------------------------------


def test_authorized_client_exchanges_messages_both_ways(ctx, keydir):
    server_keys = load_server_keys(keydir)
    with Authenticator(ctx, server_keys) as auth:
        router, endpoint = _server(ctx, server_keys)
        dealer = _client(ctx, endpoint, load_client_keys(keydir))
        assert dealer.poll(ARRIVE_WAIT_MS, zmq.POLLOUT)
        dealer.send_multipart([b"hello", b"world"])
        got = _recv(router, ARRIVE_WAIT_MS)
        assert got is not None and got[1:] == [b"hello", b"world"]
        router.send_multipart([got[0], b"reply"])
        assert _recv(dealer, ARRIVE_WAIT_MS) == [b"reply"]
        assert auth.refused == 0
        dealer.close()
        router.close()
    assert not auth.running


def test_client_not_in_authorized_is_refused(ctx, keydir, tmp_path):
    server_keys = load_server_keys(keydir)
    with Authenticator(ctx, server_keys) as auth:
        router, endpoint = _server(ctx, server_keys)
        monitor = _monitor(router, zmq.EVENT_HANDSHAKE_FAILED_AUTH)
        stranger = _client(ctx, endpoint, _stranger_keys(tmp_path, server_keys.public))
        stranger.send(b"let me in", zmq.NOBLOCK)
        # The ZAP handler said no (libzmq reports it), and the message never arrives.
        assert _recv(monitor, ARRIVE_WAIT_MS) is not None
        assert auth.refused >= 1
        assert _recv(router, REFUSE_WAIT_MS) is None
        router.disable_monitor()
        monitor.close()
        # The server is alive and serving: an authorized worker gets through afterwards.
        friend = _client(ctx, endpoint, load_client_keys(keydir))
        friend.send(b"friend")
        got = _recv(router, ARRIVE_WAIT_MS)
        assert got is not None and got[1:] == [b"friend"]
        assert _recv(router, REFUSE_WAIT_MS // 3) is None  # and still nothing from the stranger
        for s in (stranger, friend, router):
            s.close()


def test_plain_client_without_curve_is_refused(ctx, keydir):
    server_keys = load_server_keys(keydir)
    with Authenticator(ctx, server_keys):
        router, endpoint = _server(ctx, server_keys)
        monitor = _monitor(router, zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL)
        plain = _client(ctx, endpoint, None)
        plain.send(b"no curve here", zmq.NOBLOCK)
        assert _recv(router, REFUSE_WAIT_MS) is None
        # libzmq reports why: the peer's security mechanism does not match.
        assert _recv(monitor, ARRIVE_WAIT_MS) is not None
        router.disable_monitor()
        for s in (plain, monitor, router):
            s.close()


def test_client_with_wrong_server_key_gets_nothing_through(ctx, keydir, tmp_path):
    """A worker holding a different broker's public key cannot complete the handshake."""
    server_keys = load_server_keys(keydir)
    other_pool = load_server_keys(generate_keys(tmp_path / "other").directory)
    mine = load_client_keys(keydir)
    wrong = ClientKeys(public=mine.public, secret=mine.secret, server_public=other_pool.public)
    with Authenticator(ctx, server_keys):
        router, endpoint = _server(ctx, server_keys)
        monitor = _monitor(router, zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL)
        dealer = _client(ctx, endpoint, wrong)
        dealer.send(b"hi", zmq.NOBLOCK)
        assert _recv(monitor, ARRIVE_WAIT_MS) is not None  # its HELLO does not decrypt
        assert _recv(router, REFUSE_WAIT_MS) is None
        router.disable_monitor()
        for s in (dealer, monitor, router):
            s.close()


def test_reload_admits_a_newly_authorized_worker(ctx, keydir, tmp_path):
    server_keys = load_server_keys(keydir)
    newcomer = generate_keys(tmp_path / "newcomer")
    with Authenticator(ctx, server_keys) as auth:
        assert len(auth.authorized_keys) == 1
        (server_keys.authorized / "newcomer.key").write_bytes(newcomer.worker_public.read_bytes())
        assert auth.reload() == 2
        router, endpoint = _server(ctx, server_keys)
        mine = load_client_keys(newcomer.directory)
        keys = ClientKeys(public=mine.public, secret=mine.secret, server_public=server_keys.public)
        dealer = _client(ctx, endpoint, keys)
        dealer.send(b"new")
        got = _recv(router, ARRIVE_WAIT_MS)
        assert got is not None and got[1:] == [b"new"]
        dealer.close()
        router.close()


# ---------------------------------------------------------------------------------------------
# Configuration order and the authenticator's life cycle
# ---------------------------------------------------------------------------------------------


def test_configure_server_refuses_without_a_running_authenticator(ctx, keydir):
    router = _socket(ctx, zmq.ROUTER)
    with pytest.raises(AuthError, match="no Authenticator is running"):
        configure_server(router, load_server_keys(keydir))
    assert router.curve_server == 0
    router.close()


def test_configure_after_bind_or_connect_is_refused(ctx, keydir):
    server_keys = load_server_keys(keydir)
    with Authenticator(ctx, server_keys):
        router = _socket(ctx, zmq.ROUTER)
        port = router.bind_to_random_port("tcp://127.0.0.1")
        with pytest.raises(AuthError, match="before bind"):
            configure_server(router, server_keys)
        dealer = _socket(ctx, zmq.DEALER)
        dealer.connect(f"tcp://127.0.0.1:{port}")
        with pytest.raises(AuthError, match="before connect"):
            configure_client(dealer, load_client_keys(keydir))
        dealer.close()
        router.close()


def test_configure_a_closed_socket_is_our_error(ctx, keydir):
    dealer = _socket(ctx, zmq.DEALER)
    dealer.close()
    with pytest.raises(AuthError) as info:
        configure_client(dealer, load_client_keys(keydir))
    assert isinstance(info.value.__cause__, zmq.ZMQError)


def test_authenticator_lifecycle(ctx, keydir):
    auth = Authenticator(ctx, keydir / "authorized")
    assert not auth.running and "stopped" in repr(auth)
    auth.stop()  # stopping a never-started authenticator is fine
    assert auth.start() is auth
    assert auth.running and "running" in repr(auth) and "keys=1" in repr(auth)
    assert [t.name for t in _auth_threads()] == ["tuner-zap-authenticator"]
    with pytest.raises(AuthError, match="already running"):
        auth.start()
    with pytest.raises(AuthError, match="another Authenticator"):
        Authenticator(ctx, keydir / "authorized").start()
    auth.stop()
    auth.stop()
    assert not auth.running and _auth_threads() == []
    for _ in range(3):  # restartable, at once, on the same context
        with auth:
            assert auth.running
        assert not auth.running


def test_a_foreign_zap_handler_is_reported(ctx, keydir):
    foreign = zmq.auth.thread.ThreadAuthenticator(ctx)
    foreign.start()
    try:
        with pytest.raises(AuthError, match="another ZAP handler") as info:
            Authenticator(ctx, keydir / "authorized").start()
        assert isinstance(info.value.__cause__, zmq.ZMQError)
    finally:
        foreign.stop()


def test_stopping_with_an_open_server_socket_warns(ctx, keydir, caplog):
    server_keys = load_server_keys(keydir)
    with caplog.at_level(logging.WARNING, logger="tuner.security"):
        with Authenticator(ctx, server_keys):
            router, _ = _server(ctx, server_keys)
            closed_first, _ = _server(ctx, server_keys)
            closed_first.close()
        assert [r.getMessage() for r in caplog.records] == [
            "Authenticator stopped while 1 CURVE server socket(s) are open: without a ZAP "
            "handler libzmq admits any client that knows the broker's public key; close the "
            "sockets before stopping the authenticator"
        ]
        caplog.clear()
        with Authenticator(ctx, server_keys):  # the documented order: close, then stop
            router.close()
            router, _ = _server(ctx, server_keys)
            router.close()
        assert caplog.records == []


def test_authenticator_stops_when_the_block_raises(ctx, keydir):
    with pytest.raises(KeyError), Authenticator(ctx, load_server_keys(keydir)) as auth:
        assert auth.running
        raise KeyError("boom")
    assert not auth.running and _auth_threads() == []


def test_authenticator_on_a_terminated_context(keydir):
    context = zmq.Context()
    context.term()
    with pytest.raises(AuthError, match="terminated context"):
        Authenticator(context, keydir / "authorized").start()


def test_authenticator_with_bad_authorized_dir_starts_no_thread(ctx, tmp_path, keydir):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(AuthError, match="no authorized worker keys") as info:
        Authenticator(ctx, empty).start()
    assert info.value.path == str(empty)
    with pytest.raises(AuthError, match="missing directory") as info:
        Authenticator(ctx, tmp_path / "nowhere").start()
    assert info.value.path == str(tmp_path / "nowhere")
    bad = keydir / "authorized" / "evil.key"
    bad.write_text('curve\n    public-key = "short"\n')
    with pytest.raises(AuthError, match="corrupt key file") as info:
        Authenticator(ctx, keydir / "authorized").start()
    assert info.value.path == str(bad)


# ---------------------------------------------------------------------------------------------
# Key files
# ---------------------------------------------------------------------------------------------


def test_generate_keys_layout_and_permissions(tmp_path):
    paths = generate_keys(tmp_path / "k")
    assert paths == KeyPaths.of(tmp_path / "k")
    assert sorted(p.name for p in paths.directory.iterdir()) == [
        "authorized",
        "broker.key",
        "broker.key_secret",
        "worker.key",
        "worker.key_secret",
    ]
    assert [p.name for p in paths.authorized.iterdir()] == ["worker.key"]
    for secret in (paths.broker_secret, paths.worker_secret):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    for public in (paths.broker_public, paths.worker_public, paths.authorized_worker):
        assert stat.S_IMODE(public.stat().st_mode) == 0o644
        assert b"secret-key" not in public.read_bytes()
    assert stat.S_IMODE(paths.directory.stat().st_mode) == 0o700
    assert not [p for p in paths.directory.rglob(".*.tmp")]

    server, client = load_server_keys(paths.directory), load_client_keys(paths.directory)
    assert client.server_public == server.public
    assert load_authorized_keys(paths.authorized) == {client.public}
    assert len({server.public, server.secret, client.public, client.secret}) == 4
    assert zmq.curve_public(server.secret) == server.public
    assert server.authorized == paths.authorized
    # The secrets never show in a repr.
    assert server.secret.decode() not in repr(server)
    assert client.secret.decode() not in repr(client)


def test_key_files_are_zeromq_certificates(keydir):
    """pyzmq's own reader (and so czmq's zcert format) agrees with ours."""
    server, client = load_server_keys(keydir), load_client_keys(keydir)
    assert zmq.auth.load_certificate(keydir / "broker.key_secret") == (server.public, server.secret)
    assert zmq.auth.load_certificate(keydir / "worker.key") == (client.public, None)
    assert zmq.auth.load_certificates(keydir / "authorized") == {client.public: True}


def test_generate_keys_refuses_to_overwrite_unless_asked(tmp_path):
    first = generate_keys(tmp_path / "k")
    before = {p: p.read_bytes() for p in first.files()}
    with pytest.raises(AuthError, match="already exists") as info:
        generate_keys(tmp_path / "k")
    assert info.value.path == str(first.broker_public)
    assert {p: p.read_bytes() for p in first.files()} == before
    extra = first.authorized / "other-worker.key"
    extra.write_bytes(first.worker_public.read_bytes())

    generate_keys(tmp_path / "k", overwrite=True)
    assert all(p.read_bytes() != before[p] for p in first.files())
    assert extra.exists()  # keys of other workers are left alone
    assert stat.S_IMODE(first.worker_secret.stat().st_mode) == 0o600


def test_generate_keys_refuses_if_any_single_key_exists(tmp_path):
    (tmp_path / "k" / "authorized").mkdir(parents=True)
    (tmp_path / "k" / "authorized" / "worker.key").write_text("mine")
    with pytest.raises(AuthError, match=r"worker\.key already exists"):
        generate_keys(tmp_path / "k")
    assert (tmp_path / "k" / "authorized" / "worker.key").read_text() == "mine"
    assert not (tmp_path / "k" / "broker.key").exists()


def test_a_failed_write_leaves_no_partial_key_set(tmp_path, monkeypatch):
    import tuner.security as security

    real = security._write_key_file
    calls = []

    def flaky(path, text, *, secret, overwrite):
        calls.append(path)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        real(path, text, secret=secret, overwrite=overwrite)

    monkeypatch.setattr(security, "_write_key_file", flaky)
    with pytest.raises(AuthError, match=r"cannot write key file .*No space left") as info:
        generate_keys(tmp_path / "k")
    assert info.value.path == str(calls[2])
    assert [p for p in (tmp_path / "k").rglob("*") if p.is_file()] == []
    monkeypatch.setattr(security, "_write_key_file", real)
    generate_keys(tmp_path / "k")  # the next run is not blocked


def test_keys_are_written_without_hard_links_too(tmp_path, monkeypatch):
    def no_links(src, dst):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr("tuner.security.os.link", no_links)
    paths = generate_keys(tmp_path / "k")
    assert (
        load_client_keys(paths.directory).server_public == load_server_keys(paths.directory).public
    )
    assert stat.S_IMODE(paths.broker_secret.stat().st_mode) == 0o600
    assert not [p for p in paths.directory.rglob(".*.tmp")]


def test_generate_keys_where_a_file_blocks_the_directory(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(AuthError, match="cannot create key directory") as info:
        generate_keys(tmp_path / "file")
    assert info.value.path == str(tmp_path / "file")
    assert isinstance(info.value.__cause__, OSError)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "no public-key line"),
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        (b'curve\n    public-key = "tooshort"\n', "not a 40-character Z85"),
        (b'curve\n    public-key = "' + b"#" * 40 + b'"\n', "does not decode"),
        (b'curve\n    public-key = "' + b"\xc3\xa9" * 40 + b'"\n', "not a 40-character Z85"),
        (b"x" * (70 * 1024), "larger than"),
    ],
)
def test_corrupt_public_key_file_is_our_error_naming_the_path(keydir, content, reason):
    (keydir / "broker.key").write_bytes(content)
    with pytest.raises(AuthError, match=reason) as info:
        load_client_keys(keydir)
    assert str(keydir / "broker.key") in str(info.value)
    assert info.value.path == str(keydir / "broker.key")


def test_corrupt_secret_key_files_are_our_errors(keydir, tmp_path):
    secret = keydir / "broker.key_secret"
    text = secret.read_text()
    # A public file in the secret's place.
    secret.write_bytes((keydir / "broker.key").read_bytes())
    with pytest.raises(AuthError, match="no secret-key line"):
        load_server_keys(keydir)
    # Keys from two different pairs.
    other = generate_keys(tmp_path / "other").broker_public.read_text()
    foreign_public = next(line for line in other.splitlines() if "public-key" in line)
    mixed = "\n".join(
        foreign_public if "public-key" in line else line for line in text.splitlines()
    )
    secret.write_text(mixed)
    with pytest.raises(AuthError, match="does not match") as info:
        load_server_keys(keydir)
    assert info.value.path == str(secret)
    # The same key twice.
    secret.write_text(text + text)
    with pytest.raises(AuthError, match="appears twice"):
        load_server_keys(keydir)


def test_missing_and_unreadable_key_files_name_the_path(keydir, tmp_path):
    with pytest.raises(AuthError, match="does not exist") as info:
        load_server_keys(tmp_path / "nowhere")
    assert info.value.path == str(tmp_path / "nowhere")
    with pytest.raises(AuthError, match="python -m tuner keys"):
        load_client_keys(tmp_path / "nowhere")

    (keydir / "worker.key_secret").unlink()
    with pytest.raises(AuthError, match="missing secret key file") as info:
        load_client_keys(keydir)
    assert info.value.path == str(keydir / "worker.key_secret")
    assert isinstance(info.value.__cause__, FileNotFoundError)

    # Unreadable: a directory where the file should be (chmod 000 would not stop root).
    (keydir / "broker.key_secret").unlink()
    (keydir / "broker.key_secret").mkdir()
    with pytest.raises(AuthError, match="cannot read secret key file") as info:
        load_server_keys(keydir)
    assert info.value.path == str(keydir / "broker.key_secret")
    assert isinstance(info.value.__cause__, OSError)
    assert isinstance(info.value, TunerError)


def test_server_keys_need_the_authorized_directory(keydir):
    for p in (keydir / "authorized").iterdir():
        p.unlink()
    (keydir / "authorized").rmdir()
    with pytest.raises(AuthError, match="missing directory of authorized") as info:
        load_server_keys(keydir)
    assert info.value.path == str(keydir / "authorized")


def test_a_remote_worker_needs_only_two_files(keydir, tmp_path):
    remote = tmp_path / "remote"
    remote.mkdir()
    for name in ("broker.key", "worker.key_secret"):
        (remote / name).write_bytes((keydir / name).read_bytes())
    assert load_client_keys(remote) == load_client_keys(keydir)


# ---------------------------------------------------------------------------------------------
# python -m tuner keys
# ---------------------------------------------------------------------------------------------


def test_keys_main_writes_the_layout_and_prints_the_worker_command(tmp_path, capsys):
    target = tmp_path / "pool keys"
    assert keys_main([str(target)]) == 0
    out = capsys.readouterr().out
    assert load_client_keys(target).server_public == load_server_keys(target).public
    quoted = f"'{target.resolve()}'"
    assert f"python -m tuner worker --connect tcp://HOST:PORT --keys {quoted}" in out
    for name in ("broker.key", "broker.key_secret", "worker.key_secret", "authorized/worker.key"):
        assert name in out
    secret = load_server_keys(target).secret.decode()
    assert secret not in out


def test_keys_main_refuses_to_overwrite_without_force(tmp_path, capsys):
    target = str(tmp_path / "k")
    assert keys_main([target]) == 0
    before = load_server_keys(target).public
    capsys.readouterr()
    assert keys_main([target]) == 1
    err = capsys.readouterr().err
    assert err.startswith("tuner keys: error: ") and "already exists" in err
    assert err.count("\n") == 1
    assert load_server_keys(target).public == before
    assert keys_main([target, "--force"]) == 0
    assert load_server_keys(target).public != before


@pytest.mark.parametrize("argv", [[], ["a", "b"], ["--bogus", "d"]])
def test_keys_main_bad_usage_exits_2(argv, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert keys_main(argv) == 2
    assert "usage: python -m tuner keys" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_keys_main_help_exits_0(capsys):
    assert keys_main(["--help"]) == 0
    assert "--force" in capsys.readouterr().out


def test_keys_main_error_is_one_line(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    assert keys_main([str(tmp_path / "file")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("tuner keys: error: cannot create key directory")
    assert err.count("\n") == 1


def test_importing_starts_nothing():
    code = (
        "import threading, tuner.security, zmq; "
        "print(threading.active_count(), zmq.Context._instance is None)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.split() == ["1", "True"]
