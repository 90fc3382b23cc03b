# Galley's Ansible callback: beside the normal output, writes one JSON line per task result (host, play,
# task, changed, failed, what it said) and the play recap per host to the file named by
# GALLEY_ANSIBLE_EVENTS. Galley reads Ansible's own verdict from it (which task changed or failed on
# which node) instead of parsing the text output.
from __future__ import annotations

import json
import os

from ansible.playbook.handler import Handler
from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: galley_events
type: aggregate
short_description: task results and the recap as JSON lines, for Galley
description:
  - Writes each task result and the play recap to the file named by the GALLEY_ANSIBLE_EVENTS variable.
"""


def _text(value):
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return "\n".join(str(v) for v in value)
    return str(value)


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "galley_events"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self._play = ""
        path = os.environ.get("GALLEY_ANSIBLE_EVENTS")
        self._out = open(path, "a", buffering=1, encoding="utf-8") if path else None

    def _emit(self, **event):
        if self._out:
            self._out.write(json.dumps(event, default=str) + "\n")

    def _task(self, result, kind, **extra):
        task = result._task
        self._emit(
            kind=kind,
            host=result._host.get_name(),
            play=self._play,
            task=task.get_name(),
            handler=isinstance(task, Handler),
            **extra,
        )

    @staticmethod
    def _said(r):
        """What a failed result said: its message and output, or those of its first failed loop item."""
        items = [i for i in r.get("results") or [] if isinstance(i, dict) and (i.get("failed") or i.get("unreachable"))]
        src = items[0] if items else r
        return {
            "msg": _text(src.get("msg")),
            "stdout": _text(src.get("stdout")),
            "stderr": _text(src.get("stderr")),
            "rc": src.get("rc"),
        }

    def v2_playbook_on_play_start(self, play):
        self._play = play.get_name()

    def v2_runner_on_ok(self, result):
        self._task(result, "ok", changed=bool(result._result.get("changed")))

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._task(result, "failed", changed=bool(result._result.get("changed")), ignored=bool(ignore_errors), **self._said(result._result))

    def v2_runner_on_unreachable(self, result):
        self._task(result, "unreachable", **self._said(result._result))

    def v2_playbook_on_stats(self, stats):
        for host in sorted(stats.processed.keys()):
            self._emit(kind="recap", host=host, **stats.summarize(host))
        if self._out:
            self._out.close()
            self._out = None
