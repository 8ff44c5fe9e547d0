"""What users do to single nodes: reboot, reimage, deallocate, start, disable/enable scheduling, remove.

The options follow Batch: `requeue` (default) kills running tasks and requeues them, `terminate`
kills them and completes them as ended, `taskcompletion` and `retaineddata` wait for running
tasks to finish (taking no new ones) before the action happens.
"""

from __future__ import annotations

from batchite.domain.node_actions import NodeAction
from batchite.scheduler.kick import Kick
from batchite.scheduler.live import LiveNode, LivePool
from batchite.scheduler.nodes import WAITING_OPTIONS, NodeManager, eviction
from batchite.scheduler.task_runs import TaskRunner
from batchite.wire.enums import AllocationState, BatchNodeDeallocationOption, SchedulingState
from batchite.wire.types import WireEnum


def deallocation_option(option: WireEnum | str | None) -> BatchNodeDeallocationOption | None:
    """Every node option enum has the same values; read any of them as the deallocation option."""
    return BatchNodeDeallocationOption(str(option)) if option is not None else None


class NodeActions:
    def __init__(self, nodes: NodeManager, tasks: TaskRunner, kick: Kick) -> None:
        self.nodes = nodes
        self.tasks = tasks
        self.kick = kick

    def _evict_or_wait(self, node: LiveNode, option: BatchNodeDeallocationOption | None, action: NodeAction) -> bool:
        """Deal with running tasks per option; True when the action can happen now."""
        if option in WAITING_OPTIONS and node.runs:
            node.pending_action = action
            return False
        self.tasks.evict(node, eviction(option))
        return True

    def act(self, live: LivePool, node: LiveNode, action: NodeAction, option: WireEnum | None) -> None:
        """Reboot, reimage or deallocate a node (now, or once its tasks are done)."""
        if self._evict_or_wait(node, deallocation_option(option), action):
            node.pending_action = action
            self.nodes.run_pending_action(live, node)
        self.kick()

    def start(self, live: LivePool, node: LiveNode) -> None:
        """A deallocated node boots again."""
        self.nodes.reboot(live, node, fresh=False)

    def set_scheduling(self, live: LivePool, node: LiveNode, enabled: bool, option: WireEnum | None = None) -> None:
        opt = deallocation_option(option)
        wire = node.entity.wire
        wire.scheduling_state = SchedulingState.ENABLED if enabled else SchedulingState.DISABLED
        if not enabled and opt != BatchNodeDeallocationOption.TASK_COMPLETION:
            self.tasks.evict(node, eviction(opt))
        self.nodes.store.nodes.update(node.entity)
        self.kick()

    def remove(self, live: LivePool, node_ids: list[str], option: WireEnum | None) -> None:
        """Remove nodes from a pool; its targets become what is left."""
        self.nodes.set_allocation(live, AllocationState.RESIZING)
        opt = deallocation_option(option)
        for node_id in node_ids:
            node = live.nodes.get(node_id)
            if node is not None:
                self.nodes.remove_node(live, node, opt)
        staying = [n for n in live.nodes.values() if not n.leaving]
        wire = live.entity.wire
        wire.target_dedicated_nodes = sum(1 for n in staying if n.spec.is_dedicated)
        wire.target_low_priority_nodes = sum(1 for n in staying if not n.spec.is_dedicated)
        self.nodes.save(live)
        self.nodes.maybe_steady(live)
        self.kick()
