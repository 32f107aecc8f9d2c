"""`alliance demo` (what `make demo` runs): three federated nodes, real URLs, clean Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.timeout(120)
ALLIANCE = str(Path(sys.executable).parent / "alliance")


def test_demo_serves_three_nodes_and_stops_on_ctrl_c() -> None:
    process = subprocess.Popen([ALLIANCE, "demo"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Ctrl-C stops the demo" in line:
                break
        output = "".join(lines)
        assert "Ctrl-C stops the demo" in output, output
        assert len(re.findall(r"node (AK|MI|TX) serving at http://127\.0\.0\.1:\d+/", output)) == 3
        assert output.count("/docs") == 3
        answers = {}
        example = r"^  (.+?)\s+(http://\S+/v1/verify\?endorsement_id=[A-Z]\S+)$"
        for label, url in re.findall(example, output, re.M):
            answers[label] = httpx.get(url, timeout=10).json()["status"]
        assert answers["Rivera (AK, Level III)"] == "current"
        assert answers["Doe (MI, Level II)"] == "current"  # RS/C provider endorsed in AK
        assert answers["Garcia (MI, moved from TX)"] == "current"
        assert answers["Garcia's old TX endorsement"] == "transferred"
        assert answers["Chen (AK, lapsed)"] == "lapsed"
        data_dir = re.search(r"data in (\S+) ", output)
        assert data_dir is not None
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
        assert not Path(data_dir.group(1)).exists()
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
