"""The decisions of a sync (spec 9.1), as pure functions the engine and the vectors share.

``matching_blocks`` is step 3 (the divergence search), ``PageClassifier`` is step 4 (what each
operation the server lists after the verified prefix means), and ``plan_diff`` runs steps 2 to 5
over whole logs held in memory, as ``diff_plans.json`` describes them.
"""

from dataclasses import dataclass, field

from . import ops as opsmod
from .errors import ProtocolError, OpSyncError


def matching_blocks(own_block_hashes, server_block_hashes) -> int:
    """How many leading blocks are equal (SYNC-002): because hashes chain, the matches form a
    prefix, and nothing after the first difference is assumed to match."""
    count = 0
    for own, theirs in zip(own_block_hashes, server_block_hashes):
        if own != theirs:
            break
        count += 1
    return count


APPLY = "apply"
ACKNOWLEDGE = "acknowledge"


class PageClassifier:
    """Step 4: classifies the server's operations after the verified prefix p, in server order.

    ``prefix_hash_of(id)`` gives the hash of an id in the verified prefix 1..p (or None);
    ``pending_hash_of(id)`` the hash of an outbox operation or candidate (or None);
    ``held_hash_of(id)`` any other hash the device holds for that id (or None).
    """

    def __init__(self, prefix_hash_of, pending_hash_of, held_hash_of=lambda op_id: None):
        self._prefix_hash_of = prefix_hash_of
        self._pending_hash_of = pending_hash_of
        self._held_hash_of = held_hash_of
        self._listed = set()

    def classify(self, op_id: bytes, op_hash: bytes, field_path: str = "") -> str:
        """Returns APPLY or ACKNOWLEDGE, or raises: SYNC-014 and OP-021, whichever comes first."""
        if op_id in self._listed:
            raise ProtocolError("protocol_error", "the server lists one operation twice", field_path)
        self._listed.add(op_id)
        known = self._prefix_hash_of(op_id)
        if known is not None:
            if known == op_hash:
                raise ProtocolError("protocol_error",
                                    "the server lists again an operation of the verified prefix",
                                    field_path)
            raise OpSyncError("op_id_conflict", "an operation id the device holds with another hash",
                              field_path)
        pending = self._pending_hash_of(op_id)
        if pending is not None:
            if pending != op_hash:
                raise OpSyncError("op_id_conflict",
                                  "an operation id the device holds with another hash", field_path)
            return ACKNOWLEDGE
        held = self._held_hash_of(op_id)
        if held is not None and held != op_hash:
            raise OpSyncError("op_id_conflict", "an operation id the device holds with another hash",
                              field_path)
        return APPLY

    def forget_listed(self):
        """Pages after a new prefix check start a new listing."""
        self._listed.clear()


@dataclass
class Plan:
    diverged: bool = False
    verified_prefix: int = 0
    apply: list = field(default_factory=list)
    acknowledge: list = field(default_factory=list)
    upload: list = field(default_factory=list)


def plan_diff(mirror, outbox, server, block_size) -> Plan:
    """``mirror``, ``outbox`` and ``server`` are lists of (id, hash) in order."""
    mirror_prefix = opsmod.prefix_hashes([h for _, h in mirror], block_size)
    server_prefix = opsmod.prefix_hashes([h for _, h in server], block_size)
    m = len(mirror)
    plan = Plan()
    # Step 2: one prefix hash verifies the whole mirror.
    if m <= len(server) and server_prefix[m] == mirror_prefix[m]:
        p = m
    else:
        # Step 3: blocks, complete ones only, on both sides.
        plan.diverged = True
        own_blocks = [mirror_prefix[(b + 1) * block_size] for b in range(m // block_size)]
        server_blocks = [server_prefix[(b + 1) * block_size] for b in range(len(server) // block_size)]
        p = matching_blocks(own_blocks, server_blocks) * block_size
    plan.verified_prefix = p
    prefix = {op_id: h for op_id, h in mirror[:p]}
    candidates = mirror[p:]
    pending = {op_id: h for op_id, h in candidates}
    pending.update({op_id: h for op_id, h in outbox})
    classifier = PageClassifier(prefix.get, pending.get)
    acknowledged = set()
    for index, (op_id, op_hash) in enumerate(server[p:]):
        decision = classifier.classify(op_id, op_hash, f"seq {p + index + 1}")
        if decision == ACKNOWLEDGE:
            plan.acknowledge.append(op_id)
            acknowledged.add(op_id)
        else:
            plan.apply.append(op_id)
    # Step 5 (SYNC-013): candidates first, in their former order, then the outbox.
    plan.upload = [op_id for op_id, _ in candidates + list(outbox) if op_id not in acknowledged]
    return plan
