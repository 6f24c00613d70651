"""Runs hostile projects through `run_pytest` the way a deployed bot would, in one host mode the test set up.

Started by tests/test_sandbox_modes.py as the mode's identity (uid 10001, or root without CAP_SYS_ADMIN, ...).
With "docker_seccomp" it first loads a filter that refuses what Docker's default profile refuses to a process
without CAP_SYS_ADMIN: unshare, setns, mount, clone with namespace flags (clone3 answers ENOSYS)."""

import ctypes
import dataclasses
import errno
import json
import os
import sys

spec = json.load(open(sys.argv[1]))
sys.path.insert(0, spec['pkg'])
from aidevbot import sandbox  # noqa: E402


def docker_like_filter() -> None:
    lib = sandbox._libseccomp()
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    ctx = lib.seccomp_init(0x7FFF0000)
    eperm = sandbox._act_errno(errno.EPERM)
    for call in ('unshare', 'setns', 'mount', 'umount2', 'pivot_root'):
        sandbox._rule(lib, ctx, eperm, call)
    for flag in sandbox.CLONE_NAMESPACE_FLAGS.values():
        sandbox._rule(lib, ctx, eperm, 'clone', sandbox._ArgCmp(0, 7, flag, flag))
    sandbox._rule(lib, ctx, sandbox._act_errno(errno.ENOSYS), 'clone3')
    ctypes.CDLL(None).prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS, needed to load a filter without CAP_SYS_ADMIN
    assert lib.seccomp_load(ctx) == 0, 'could not load the filter'


if spec.get('docker_seccomp'):
    docker_like_filter()
os.chdir(spec['cwd'])
out = {'uid': os.getuid(), 'engine': dataclasses.asdict(sandbox.engine())}
for name, job in spec['jobs'].items():
    rep = sandbox.run_pytest(
        {k: v.encode() for k, v in job['files'].items()},
        timeout=job.get('timeout', 60),
        memory_mb=job.get('memory_mb', 512),
        disk_mb=job.get('disk_mb', 256),
        pytest_args=['-s', '-q'],
    )
    out[name] = {
        'status': rep.status,
        'message': rep.message,
        'output': rep.output[-6000:],
        'passed': rep.passed,
        'killed_reason': rep.result.killed_reason,
        'isolation': rep.result.isolation,
    }
print('RESULT ' + json.dumps(out))
