"""The README's "Run locally" commands work as written.

The shell blocks after "To drive the functions by hand" are taken from README.md and run
in order, in a shell from the checkout: the emulator command and the watcher command in
the background (each is a server the README starts in a terminal of its own), then the
invocation block. Only the ports change, to free ones, where the README's fixed
8787/9000 may be taken on a shared machine; every other word runs as typed. Each
invocation must print a result (no Lambda error), with the status the events call for.
"""

import json
import re
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import infra_support as infra
from test_workflows_run import Processes, _free_port, _wait_for_port

EMULATOR_PORT = "8787"
INVOKE_PORT = "9000"


def run_locally_blocks() -> list[str]:
    readme = (infra.ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("To drive the functions by hand", 1)[1].split("### Against a real identity store", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)


def test_the_readme_has_the_three_blocks_and_binds_loopback_only():
    emulator, watcher, invocations = run_locally_blocks()
    assert "--listen 127.0.0.1:" in emulator
    assert "--invoke-address 127.0.0.1" in watcher
    assert invocations.count("--invoke-address 127.0.0.1") == 1, "one lambda() helper for every invocation"


def test_the_run_locally_commands_work_as_typed():
    emulator, watcher, invocations = run_locally_blocks()
    emulator_port, invoke_port = str(_free_port()), str(_free_port())

    def ported(block: str) -> str:
        return block.replace(EMULATOR_PORT, emulator_port).replace(INVOKE_PORT, invoke_port)

    work = Path(tempfile.mkdtemp(prefix="readme-run-locally-"))
    processes = Processes(work)
    try:
        # The first block: the bootstrap (installs nothing new here), then the emulator.
        *setup, server = [line for line in ported(emulator).splitlines() if line.strip()]
        for line in setup:
            done = subprocess.run(["bash", "-c", line], cwd=infra.ROOT, capture_output=True, text=True)
            assert done.returncode == 0, f"{line}: {done.stderr[-2000:]}"
        process, log = processes.start("emulator", ["bash", "-c", f"exec {server}"])
        _wait_for_port(int(emulator_port), process, log, seconds=600)
        command = " ".join(ported(watcher).replace("\\\n", " ").split())
        process, log = processes.start("watch", ["bash", "-c", f"exec {command}"], stop_signal=signal.SIGINT)
        _wait_for_port(int(invoke_port), process, log, seconds=600)

        # The invocation block, each command's output marked so that it can be told apart.
        lines = ported(invocations).splitlines()
        helper = [line for line in lines if line.startswith("lambda()")]
        calls = [line for line in lines if line.startswith("lambda ")]
        script = "\n".join(helper + [f"echo '>>> {call}'; {call}; echo \"<<< $?\"" for call in calls])
        done = subprocess.run(
            ["bash", "-c", script], cwd=infra.ROOT, capture_output=True, text=True, timeout=900
        )
        outputs = re.findall(r">>> (.*?)\n(.*?)<<< (\d+)", done.stdout, flags=re.DOTALL)
        assert len(outputs) == len(calls), done.stdout + done.stderr
        statuses = []
        for call, output, code in outputs:
            assert code == "0", f"{call} failed:\n{output}\n{done.stderr[-2000:]}"
            result = json.loads(output[output.index("{") :])
            statuses.append((call.split()[1], result.get("status")))
    finally:
        processes.stop()
        shutil.rmtree(work, ignore_errors=True)

    print("README run-locally statuses:", statuses)
    # What the README's example events do in that order, with the fence on and no ledger.
    # alice.archer's hire names bob.baker as her manager before he exists (unresolved);
    # its envelope form, after bob.baker's hire, sets the manager: updated.
    assert statuses == [
        ("onboard-user", "created"),
        ("onboard-user", "created"),
        ("onboard-user", "updated"),
        ("sync-group", "updated"),
        ("sync-group", "unchanged"),
        ("offboard-user", "revoked"),
        ("offboard-user", "deleted"),
        ("offboard-user", "notFound"),
    ], statuses
