"""SharedTable: a node's own entries over a base shared copy-on-write with other nodes."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from serf_proto.shared_table import SharedTable


@dataclass
class Rec:
    value: int


def copy(rec: Rec) -> Rec:
    return replace(rec)


def test_without_a_base_it_behaves_like_a_dict() -> None:
    table: SharedTable[Rec] = SharedTable()
    table["a"] = Rec(1)
    assert table.get("a") == Rec(1) and "a" in table and len(table) == 1
    assert table.get("b") is None and "b" not in table
    assert table.pop("a") == Rec(1) and len(table) == 0
    with pytest.raises(KeyError):
        del table["a"]


def test_reads_fall_through_to_the_base_and_return_the_shared_object() -> None:
    base = {"a": Rec(1), "b": Rec(2)}
    table = SharedTable(base)
    assert table["a"] is base["a"] and table.is_shared("a")
    assert len(table) == 2 and table.own_count == 0


def test_owning_a_base_entry_copies_it_once_and_leaves_the_base_alone() -> None:
    base = {"a": Rec(1)}
    one, two = SharedTable(base), SharedTable(base)
    mine = one.own("a", copy)
    mine.value = 5
    assert one.own("a", copy) is mine and one["a"].value == 5 and not one.is_shared("a")
    assert base["a"].value == 1 and two["a"].value == 1 and two.is_shared("a")
    assert one.own_count == 1 and len(one) == 1


def test_owning_an_unknown_or_deleted_name_raises_key_error() -> None:
    table = SharedTable({"a": Rec(1)})
    with pytest.raises(KeyError):
        table.own("zz", copy)
    table.pop("a")
    with pytest.raises(KeyError):
        table.own("a", copy)


def test_deleting_a_base_entry_hides_it_for_this_owner_only() -> None:
    base = {"a": Rec(1), "b": Rec(2)}
    one, two = SharedTable(base), SharedTable(base)
    assert one.pop("a") is base["a"]
    assert "a" not in one and len(one) == 1 and one.get("a") is None
    assert "a" in two and "a" in base
    one["a"] = Rec(9)  # it can come back
    assert one["a"].value == 9 and len(one) == 2


def test_iteration_gives_base_order_with_own_versions_then_own_only_entries() -> None:
    table = SharedTable({"a": Rec(1), "b": Rec(2), "c": Rec(3)})
    table.own("b", copy).value = 20
    table.pop("c")
    table["d"] = Rec(4)
    assert [(k, v.value) for k, v in table.items()] == [("a", 1), ("b", 20), ("d", 4)]
    assert list(table) == ["a", "b", "d"] and [v.value for v in table.values()] == [1, 20, 4]


ops = st.lists(
    st.tuples(st.sampled_from(["set", "pop", "own"]), st.sampled_from("abcdef"), st.integers()),
    max_size=40,
)


@given(ops)
def test_any_sequence_of_operations_matches_a_private_dict_and_never_touches_the_base(
    steps: list[tuple[str, str, int]],
) -> None:
    base = {k: Rec(i) for i, k in enumerate("abc")}
    frozen = {k: v.value for k, v in base.items()}
    table = SharedTable(base)
    model = {k: Rec(v.value) for k, v in base.items()}
    for op, key, value in steps:
        if op == "set":
            table[key] = Rec(value)
            model[key] = Rec(value)
        elif op == "pop":
            got = table.pop(key)
            want = model.pop(key, None)
            assert (got is None) == (want is None)
        elif key in model:
            table.own(key, copy).value = value
            model[key].value = value
        else:
            with pytest.raises(KeyError):
                table.own(key, copy)
        assert len(table) == len(model)
        assert {k: v.value for k, v in table.items()} == {k: v.value for k, v in model.items()}
    assert {k: v.value for k, v in base.items()} == frozen
