"""``lowbit.models``: one builder per task (``imdb``, ``summation``, ``frames``), a user's own model
and data (``user``) and the task registry (:mod:`lowbit.models.tasks`). Importing it does not
import TensorFlow."""

from lowbit.models.tasks import TASKS, InputKind, Task, get_task, manifest_task, run_task, text_tasks

__all__ = ["TASKS", "InputKind", "Task", "get_task", "manifest_task", "run_task", "text_tasks"]
