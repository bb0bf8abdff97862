"""Objects and conflicts (spec 10.2): a key's state is a function of the set of its operations.

The resolution here is the pure function the store's queries implement and the vectors test; the
store keeps the same rule in SQL (``store.py``) and a test checks both against each other.
"""

from dataclasses import dataclass, field


def order_key(op):
    """Operations on one key are ordered by (wall_ms, counter, id), ids as unsigned bytes."""
    return (op.wall_ms, op.counter, op.id)


@dataclass(frozen=True)
class KeyOp:
    id: bytes
    wall_ms: int
    counter: int
    type: str  # "put" or "delete"
    key: str
    bases: tuple = ()
    value: bytes = None
    files: tuple = ()
    arrival: int = 0  # order of arrival, used only by the strict-less defect


@dataclass
class KeyState:
    winner: KeyOp = None
    conflicts: list = field(default_factory=list)

    @property
    def present(self):
        return self.winner is not None and self.winner.type == "put"


def resolve(ops, strict_less_defect=False):
    """The state of one key from its operations (any order, duplicates allowed; LWW-010)."""
    unique = {}
    for op in ops:
        unique.setdefault(op.id, op)
    superseded = set()
    for op in unique.values():
        superseded.update(op.bases)
    heads = [op for op in unique.values() if op.id not in superseded]
    if not heads:
        return KeyState()
    if strict_less_defect:
        # The Dataans rule: a later arrival replaces the winner only when its clock is strictly
        # greater, so equal clocks keep whichever arrived first (spec 15, counterexample 3).
        heads.sort(key=lambda op: (op.wall_ms, op.counter, -op.arrival), reverse=True)
    else:
        heads.sort(key=order_key, reverse=True)
    return KeyState(winner=heads[0], conflicts=heads[1:])


def resolve_all(ops, strict_less_defect=False):
    by_key = {}
    for op in ops:
        by_key.setdefault(op.key, []).append(op)
    return {key: resolve(key_ops, strict_less_defect) for key, key_ops in by_key.items()}
