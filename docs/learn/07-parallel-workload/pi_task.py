#!/usr/bin/env python3
"""What runs ON THE NODE in lesson 07 (the lesson's start task copies this file into the node's
shared directory). Standard library only: the node's own python3 runs it.

    pi_task.py sample SEED SAMPLES   throw SAMPLES random darts at the unit square; print how many
                                     fell inside the quarter circle, and keep the same line in
                                     $AZ_BATCH_NODE_SHARED_DIR/pi-lesson/out/$AZ_BATCH_TASK_ID.txt
    pi_task.py merge TASK_ID...      read those tasks' lines back from the shared directory, add
                                     them up and print the merged estimate of pi
"""

import os
import random
import sys
from pathlib import Path

OUT = Path(os.environ["AZ_BATCH_NODE_SHARED_DIR"]) / "pi-lesson" / "out"


def sample(seed: int, samples: int) -> None:
    rng = random.Random(seed)  # a fixed seed per task: the same numbers on every run, anywhere
    inside = sum(1 for _ in range(samples) if rng.random() ** 2 + rng.random() ** 2 <= 1.0)
    line = f"samples={samples} inside={inside} estimate={4 * inside / samples:.6f}"
    print(line)  # -> the task's stdout.txt, which the learner downloads
    (OUT / f"{os.environ['AZ_BATCH_TASK_ID']}.txt").write_text(line + "\n")  # -> for the merge task


def merge(task_ids: list[str]) -> None:
    samples = inside = 0
    for task_id in task_ids:
        fields = dict(kv.split("=") for kv in (OUT / f"{task_id}.txt").read_text().split())
        samples += int(fields["samples"])
        inside += int(fields["inside"])
        print(f"{task_id}: {fields['inside']} of {fields['samples']}")
    print(f"merged: samples={samples} inside={inside} estimate={4 * inside / samples:.6f}")


if __name__ == "__main__":
    if sys.argv[1] == "sample":
        sample(int(sys.argv[2]), int(sys.argv[3]))
    else:
        merge(sys.argv[2:])
