"""The process the crash test kills: runs `advance` on one project and prints the state it ended in.

usage: python orchestrator_crash_worker.py DATABASE_URL LLM_BASE_URL PROJECT_ID
"""

import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from orchestrator_support import stack  # noqa: E402


async def main(db_url: str, llm_url: str, pid: int) -> None:
    async with stack(db_url, llm_url, prepare=False) as s:
        print(await s.orch.advance(pid), flush=True)


if __name__ == '__main__':
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
