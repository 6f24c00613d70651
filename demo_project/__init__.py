"""The project `aidevbot demo` delivers, as real files (installed as package data `aidevbot.testing.demo_project`).

`small/` is the word-statistics project the demo architect plans (three tasks, seven files); `change/` holds the files
its answer to a change request rewrites. `aidevbot.testing.demo_model` serves them; the faults it injects are small
edits of `small/cli.py`. Run `python -m pytest -q` inside `small/` to see its six tests pass.
"""
