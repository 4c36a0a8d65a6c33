"""The scripts of a plan as one deterministic tar stream (for the ssh transport).

Same plan, same bytes: entries in job order, mtime 0, owner 0/0 without names,
mode 0600 (PRIVATE_MODE), USTAR format.  Extract with `tar -x -m -f - -C DIR` (-m: stamp files
with the extraction time rather than 1970).
"""

from __future__ import annotations

import io
import posixpath
import tarfile

from slurmplan.compiler.plan import PRIVATE_MODE, Plan, script_bytes


def scripts_tar(plan: Plan, jobs: tuple[int, ...]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for index in jobs:
            job = plan.jobs[index]
            data = script_bytes(job.script)
            info = tarfile.TarInfo(posixpath.basename(job.script_path))
            info.size = len(data)
            info.mode = PRIVATE_MODE
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
