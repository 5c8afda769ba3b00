"""`stripe-sync emulator` refuses bad settings in one line and a taken port with exit code 3."""

from __future__ import annotations

import argparse
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest
import requests

from stripe_source.emulator import cli


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="stripe-sync")
    cli.register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["emulator", *argv])


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        yield holder.getsockname()[1]


def test_the_defaults_match_the_documented_command_line():
    args = parse()

    assert (args.host, args.port, args.seed, args.objects, args.accounts) == (
        "127.0.0.1",
        12111,
        42,
        10_000,
        1,
    )
    assert (args.latency_ms, args.rate_limit, args.per_endpoint_rate_limit, args.fault_rate) == (
        0.0,
        None,
        None,
        0.0,
    )
    assert args.handler is cli.run


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--objects", "-5"], "--objects -5"),
        (["--accounts", "0"], "--accounts 0"),
        (["--fault-rate", "1.5"], "--fault-rate 1.5"),
        (["--fault-rate", "-0.1"], "--fault-rate -0.1"),
        (["--latency-ms", "-1"], "--latency-ms -1"),
        (["--rate-limit", "0"], "--rate-limit 0"),
        (["--per-endpoint-rate-limit", "-3"], "--per-endpoint-rate-limit -3"),
        (["--port", "70000"], "--port 70000"),
    ],
)
def test_a_setting_out_of_range_is_one_line_naming_it_with_exit_code_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], named: str
):
    code = cli.run(parse(*argv))

    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert named in err
    assert "e.g." in err or "pick" in err
    assert "Traceback" not in err


def test_a_port_in_use_is_one_line_with_exit_code_3(
    capsys: pytest.CaptureFixture[str], taken_port: int
):
    code = cli.run(parse("--port", str(taken_port), "--objects", "10"))

    err = capsys.readouterr().err
    assert code == 3
    assert err.count("\n") == 1
    assert f"port {taken_port}" in err
    assert "--port" in err


def found(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    assert match is not None, f"{pattern!r} not in {text!r}"
    return match.group(1)


@pytest.mark.slow
def test_the_command_serves_the_keys_it_prints_until_ctrl_c():
    script = (
        "import argparse, sys\n"
        "from stripe_source.emulator import cli\n"
        "parser = argparse.ArgumentParser(prog='stripe-sync')\n"
        "cli.register(parser.add_subparsers(dest='command'))\n"
        "args = parser.parse_args(['emulator', '--port', '0', '--objects', '300'])\n"
        "sys.exit(args.handler(args))\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A shell running tests in the background may ignore Ctrl-C; the command must not.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        url = found(r"listening on (http://\S+)", lines[0])
        key = found(r"secret key\s+(sk_test_\w+)", "".join(lines))

        answer = requests.get(f"{url}/v1/customers", auth=(key, ""), timeout=10)

        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert answer.status_code == 200
    assert answer.json()["object"] == "list"
    assert process.returncode == 0
    assert "Stopped." in out
    assert "Traceback" not in err
