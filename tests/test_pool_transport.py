"""tuner.transport (sockets, error translation, private endpoints) and the worker's CLI."""

from __future__ import annotations

import os

import pytest
import zmq

from tuner import transport
from tuner.errors import TransportError, TunerError
from tuner.pool import worker


@pytest.fixture
def ctx():
    context = zmq.Context()
    yield context
    context.term()


def test_sockets_never_linger_and_router_is_mandatory(ctx):
    sock = transport.make_socket(ctx, zmq.ROUTER, router_mandatory=True, hwm=123)
    try:
        assert sock.getsockopt(zmq.LINGER) == 0
        assert sock.getsockopt(zmq.SNDHWM) == 123
        assert sock.getsockopt(zmq.RCVHWM) == 123
    finally:
        sock.close()


def test_bind_port_zero_reports_the_port_chosen(ctx):
    sock = transport.make_socket(ctx, zmq.ROUTER)
    try:
        bound = transport.bind(sock, "tcp://127.0.0.1:0")
        host, _, port = bound.rpartition(":")
        assert host == "tcp://127.0.0.1"
        assert 0 < int(port) < 65536
    finally:
        sock.close()


def test_zmq_errors_become_transport_errors_with_the_cause(ctx):
    sock = transport.make_socket(ctx, zmq.ROUTER)
    try:
        with pytest.raises(TransportError) as info:
            transport.bind(sock, "tcp://256.0.0.1:1")
        assert isinstance(info.value, TunerError)
        assert isinstance(info.value.__cause__, zmq.ZMQError)
        assert info.value.errno == info.value.__cause__.errno
    finally:
        sock.close()


def test_private_endpoint_is_removed_on_close():
    private = transport.PrivateEndpoint()
    directory = os.path.dirname(private.endpoint.removeprefix("ipc://"))
    assert os.path.isdir(directory)
    assert os.stat(directory).st_mode & 0o077 == 0
    private.close()
    private.close()
    assert not os.path.exists(directory)


def test_worker_main_reports_bad_usage_and_bad_endpoints(capsys):
    assert worker.main([]) == 2
    assert worker.main(["--connect", "ipc:///nowhere", "--keys", "/tmp"]) == 2
    assert worker.main(["--connect", "no-scheme"]) == 1
    assert "cannot connect" in capsys.readouterr().err
