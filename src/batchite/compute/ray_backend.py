"""Ray backend: every Batch compute node is a Ray actor hosting its node agent (ray_host.py).

The actor is detached and named (`batchite-<service>-<node id>` in namespace `batchite`), so it
outlives the service and a restarted service finds it again by name. It reserves its VM size's
cores and memory as Ray resources (`num_cpus`, `memory`) on one Ray node, chosen here among the
alive ones with room and pinned there (`NodeAffinitySchedulingStrategy`, hard). With no room
anywhere the node is reported unplaced (the pool shows an `AllocationFailed` resize error and
tries again), and Ray's autoscaler is asked for the capacity (`request_resources`).

Everything else is the local backend's: the same node agent, the same protocol over TCP to the
actor's host, the same directory tree (under `--ray-node-dir` on the Ray node), environment,
isolation, files. An actor that dies (killed, or its Ray node gone) takes its agent with it; the
link's end reports the node lost for good, and the scheduler requeues its tasks and replaces it.
Ray calls that block run on worker threads; none runs on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from batchite.agent.identity import Isolation
from batchite.compute.agents import AgentLink
from batchite.compute.local import LocalBackend
from batchite.compute.protocol import NodeSpec
from batchite.domain import vmsizes

log = logging.getLogger("batchite.compute.ray")
NAMESPACE = "batchite"
PLACEMENT_TIMEOUT = 60.0  # seconds for an actor placed on a node with room to come up
GANG_TIMEOUT = 5.0  # seconds for a placement group of a spread pool's new nodes to be placed
RELEASE_TIMEOUT = 30.0  # seconds for a released node's agent to end before its actor is killed


@dataclass(frozen=True)
class RayPlacement:
    """Where pools on Ray put their nodes: the cluster's address ("" = the one this machine is
    in, or a new local one), the directory for node trees on every Ray node, and whether Ray is
    the default backend."""

    address: str
    node_dir: str
    default: bool


class Unplaced(Exception):
    """No alive Ray node has the room a node needs."""


class RayBackend(LocalBackend):
    name = "ray"

    def __init__(self, data_dir: Path, address: str, node_dir: str, isolation: Isolation = Isolation.NONE) -> None:
        super().__init__(data_dir, isolation)
        self.address = address
        self.service = hashlib.sha256(str(data_dir).encode()).hexdigest()[:12]  # this service's actors
        self.remote_root = Path(node_dir) / self.service  # on every Ray node
        self.root = self.remote_root / "nodes"
        self.hide = [str(self.remote_root)]
        self._placing: dict[str, list[tuple[float, float]]] = {}  # Ray node -> (cpus, memory) being placed
        self._gangs: dict[tuple[str, str], list[tuple[NodeSpec, bool]]] = {}  # spread nodes of this tick
        self._assigned: dict[str, tuple[str, str]] = {}  # node id -> (Ray node, address) its gang chose
        self._ray: Any = None

    # -- Ray ------------------------------------------------------------------------------
    def connect_ray(self) -> Any:
        """ray, initialised against the cluster (once; blocking: at start, or on a worker thread)."""
        if self._ray is None:
            import ray

            if not ray.is_initialized():
                ray.init(address=self.address or None, namespace=NAMESPACE, log_to_driver=False)
            self._ray = ray
        return self._ray

    async def _ray_call(self, fn: Any, *args: Any) -> Any:
        return await asyncio.to_thread(fn, *args)

    def actor_name(self, node: NodeSpec) -> str:
        return f"batchite-{self.service}-{node.node_id}"

    @staticmethod
    def agent_id(node: NodeSpec) -> str:
        """One agent (one actor) per node: Ray places nodes one by one."""
        return hashlib.sha256(node.node_id.encode()).hexdigest()[:16]

    def node_root(self, node: NodeSpec) -> Path:
        return self.root / node.account / node.pool_id.lower() / node.node_id

    @staticmethod
    def demand(node: NodeSpec) -> tuple[float, float]:
        """(cores, bytes of memory) the node reserves: its VM size's."""
        size = vmsizes.lookup(node.vm_size)
        return float(size.cores), float(size.memory_mb) * 1024 * 1024

    def _choose(self, ray: Any, cpus: float, memory: float) -> tuple[str, str]:
        """(Ray node id, its address) of an alive node with room, the one with the most free cores."""
        from ray._private import state

        free = state.available_resources_per_node()
        alive = {n["NodeID"]: n["NodeManagerAddress"] for n in ray.nodes() if n.get("Alive")}
        best: tuple[float, str] | None = None
        for node_id, resources in free.items():
            if node_id not in alive:
                continue
            placing = self._placing.get(node_id, [])
            cpu_left = resources.get("CPU", 0.0) - sum(c for c, _ in placing)
            memory_left = resources.get("memory", 0.0) - sum(m for _, m in placing)
            if cpu_left >= cpus and memory_left >= memory and (best is None or cpu_left > best[0]):
                best = (cpu_left, node_id)
        if best is None:
            with contextlib.suppress(Exception):  # only a hint to the autoscaler, if there is one
                from ray.autoscaler.sdk import request_resources

                request_resources(bundles=[{"CPU": cpus, "memory": memory}])
            raise Unplaced(
                f"no Ray node has {cpus:g} free cores and {memory / 2**30:.1f} GiB of free memory "
                f"for a {cpus:g}-core node"
            )
        return best[1], alive[best[1]]

    def _create_actor(self, node: NodeSpec) -> tuple[Any, str, tuple[float, float]]:
        """A new actor for the node on a Ray node with room (blocking)."""
        ray = self.connect_ray()
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        from batchite.compute.ray_host import NodeHost

        cpus, memory = self.demand(node)
        assigned = self._assigned.pop(node.node_id) if node.node_id in self._assigned else None
        ray_node, host = assigned or self._choose(ray, cpus, memory)
        self._placing.setdefault(ray_node, []).append((cpus, memory))
        directory = str(self.remote_root / "agents" / self.agent_id(node))
        actor = (
            ray.remote(NodeHost)
            .options(
                name=self.actor_name(node),
                namespace=NAMESPACE,
                lifetime="detached",
                num_cpus=cpus,
                memory=memory,
                max_restarts=0,
                max_concurrency=4,  # address() answers while wait_agent() waits
                scheduling_strategy=NodeAffinitySchedulingStrategy(node_id=ray_node, soft=False),
            )
            .remote(directory, self.agent_id(node), self.token, self.isolation.value, self.hide, host)
        )
        return actor, ray_node, (cpus, memory)

    def _gang_placement(self, nodes: list[NodeSpec]) -> dict[str, tuple[str, str]]:
        """Where a spread pool's new nodes go, chosen together: a placement group of one bundle per
        node (their cores and memory), strategy SPREAD, placed all at once or not at all; the Ray
        nodes it got are where the actors are pinned (the group itself is removed). Raises
        Unplaced when it cannot be placed in GANG_TIMEOUT (the nodes are then placed one by one)."""
        ray = self.connect_ray()
        from ray.util.placement_group import placement_group, placement_group_table, remove_placement_group

        cpus, memory = self.demand(nodes[0])
        group = placement_group([{"CPU": cpus, "memory": memory}] * len(nodes), strategy="SPREAD")
        try:
            if not group.wait(GANG_TIMEOUT):
                raise Unplaced(f"no room for {len(nodes)} nodes of {cpus:g} cores at once")
            chosen = placement_group_table(group)["bundles_to_node_id"]
        finally:
            remove_placement_group(group)
        alive = {n["NodeID"]: n["NodeManagerAddress"] for n in ray.nodes() if n.get("Alive")}
        return {node.node_id: (chosen[i], alive[chosen[i]]) for i, node in enumerate(nodes) if chosen[i] in alive}

    def allocate(self, node: NodeSpec, *, fresh: bool = False) -> None:
        """A spread pool's nodes allocated in one tick (a resize) are placed together (_gang)."""
        if not node.spread:
            super().allocate(node, fresh=fresh)
            return
        self.specs[node.node_id] = node
        key = (node.account, node.pool_id)
        batch = self._gangs.setdefault(key, [])
        batch.append((node, fresh))
        if len(batch) == 1:
            asyncio.get_running_loop().call_soon(lambda: self._spawn(self._gang(key)))

    async def _gang(self, key: tuple[str, str]) -> None:
        batch = self._gangs.pop(key, [])
        new = [n for n, _ in batch if self.agent_id(n) not in self.links]
        if len(new) > 1:
            existing = await asyncio.gather(*(self._ray_call(self._find_actor, n) for n in new))
            new = [n for n, actor in zip(new, existing, strict=True) if actor is None]
        if len(new) > 1:
            try:
                self._assigned.update(await self._ray_call(self._gang_placement, new))
            except Unplaced as exc:
                log.info("spread placement of %d nodes failed (%s); placing them one by one", len(new), exc)
        await asyncio.gather(*(self._allocate(n, fresh) for n, fresh in batch))

    def _find_actor(self, node: NodeSpec) -> Any | None:
        ray = self.connect_ray()
        try:
            return ray.get_actor(self.actor_name(node), namespace=NAMESPACE)
        except ValueError:
            return None

    # -- agents -------------------------------------------------------------------------
    async def _reach_node(self, node: NodeSpec, start: bool) -> AgentLink | None:
        agent_id = self.agent_id(node)
        actor = await self._ray_call(self._find_actor, node)
        placed: tuple[str, tuple[float, float]] | None = None
        if actor is None:
            if not start:
                return None
            actor, ray_node, demand = await self._ray_call(self._create_actor, node)
            placed = (ray_node, demand)
        try:
            host, port, _pid = await asyncio.wait_for(actor.address.remote(), PLACEMENT_TIMEOUT)
        except Exception as exc:  # the actor died, or could not be placed in time
            await self._ray_call(self._kill_actor, actor)
            if not start:
                log.info("node %s's actor cannot be reached: %s", node.node_id, exc)
                return None
            raise ConnectionError(f"its Ray actor did not come up: {exc}") from exc
        finally:
            if placed is not None:
                with contextlib.suppress(ValueError):
                    self._placing.get(placed[0], []).remove(placed[1])
        assert self._durable is not None
        link = AgentLink(agent_id, Path(), self.token, self._message, self._lost, self._durable, tcp=(host, port))
        await link.connect()
        link.host = actor
        self.links[agent_id] = link
        return link

    async def _node_link(self, node: NodeSpec) -> AgentLink | None:
        try:
            link = await self._link(node, start=True)
        except Unplaced as exc:
            self.specs.pop(node.node_id, None)
            self.events.node_unplaced(node, str(exc))
            return None
        if link is not None:
            passable = self.isolation != Isolation.NONE
            await link.host.prepare.remote(str(self.node_root(node).parent), str(self.root), passable)
        return link

    def _kill_actor(self, actor: Any) -> None:
        ray = self.connect_ray()
        with contextlib.suppress(Exception):
            ray.kill(actor, no_restart=True)

    def _lost(self, link: AgentLink, reason: str) -> None:
        log.warning("node agent %s (Ray actor) lost: %s", link.agent_id, reason)
        if self.links.get(link.agent_id) is link:
            del self.links[link.agent_id]
        actor = link.host
        if actor is not None:  # it may still live (a silent agent): end it and what it runs
            self._spawn(self._end_actor(actor))
        for node_id in list(link.nodes):
            spec = self.specs.get(node_id)
            if spec is not None:
                self.events.node_lost(spec, f"its Ray actor is gone: {reason}", gone=True)

    async def _end_actor(self, actor: Any) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(actor.end.remote(), RELEASE_TIMEOUT)
        await self._ray_call(self._kill_actor, actor)

    def _drop_link(self, link: AgentLink) -> None:
        """The node left: once its agent ended (its runs killed, its tree removed), the actor goes."""
        super()._drop_link(link)
        actor = link.host
        if actor is not None:
            self._spawn(self._release_actor(actor))

    async def _release_actor(self, actor: Any) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(actor.wait_agent.remote(RELEASE_TIMEOUT), RELEASE_TIMEOUT + 5)
        await self._ray_call(self._kill_actor, actor)

    async def shutdown(self, stop_agents: bool = False) -> None:
        actors = [link.host for link in self.links.values()]
        await super().shutdown(stop_agents)
        if stop_agents:
            for actor in actors:
                if actor is not None:
                    await self._end_actor(actor)
