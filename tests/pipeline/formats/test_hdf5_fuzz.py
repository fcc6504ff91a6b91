"""Property: a damaged file either loads as a valid graph or raises one of our SnnpipeErrors.

Valid files (netx layout, graph group) are mutated: truncated, bytes flipped, datasets and
attributes deleted or retyped, dataset shapes swapped. ``load`` must never raise anything else.
"""
import functools
import os
import tempfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snnpipe.pipeline.formats import hdf5
from snnpipe.pipeline.ir.errors import SnnpipeError
from snnpipe.pipeline.ir.validate import validate
import zoo

# zoo graphs; "plain:" files lose our root attributes, as lava-dl's own exports have none.
BASES = ("sequential_conv", "recurrent_first", "wavesense", "synnet", "plain:sequential_conv")
# examples per property: a subset in the suite, the full count under `make crosscheck`
# (every load forks a probe of the file, h5guard, so each example costs about 0.1 s)
FULL = os.environ.get("SNNPIPE_CROSSCHECK") == "full"
BUDGETS = [pytest.param(20, id="suite"),
           pytest.param(200, id="full", marks=[
               pytest.mark.crosscheck,
               pytest.mark.skipif(not FULL, reason="more fuzz examples: under `make crosscheck` "
                                                   "(SNNPIPE_CROSSCHECK=full)")])]


def fuzz(prop, budget: int) -> None:
    """Run the hypothesis property ``prop`` on ``budget`` examples."""
    settings(max_examples=budget, deadline=None,
             suppress_health_check=[HealthCheck.too_slow])(prop)()


@functools.lru_cache(maxsize=None)
def base_bytes(name: str) -> bytes:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "net.h5"
        hdf5.export(zoo.ZOO[name.removeprefix("plain:")](0), path)
        if name.startswith("plain:"):
            with h5py.File(path, "r+") as f:
                for key in list(f.attrs):
                    del f.attrs[key]
        return path.read_bytes()


def loads_validly_or_raises_ours(path) -> None:
    try:
        g = hdf5.load(path)
    except SnnpipeError:
        return
    assert validate(g) == []


def with_file(data: bytes, mutate) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "net.h5"
        path.write_bytes(data)
        mutate(path)
        loads_validly_or_raises_ours(path)


@given(name=st.sampled_from(BASES), keep=st.floats(0.0, 1.0))
def _truncated_files(name, keep):
    data = base_bytes(name)
    with_file(data[:int(len(data) * keep)], lambda path: None)


@given(name=st.sampled_from(BASES), flips=st.lists(st.tuples(st.floats(0, 1), st.integers(1, 255)),
                                                    min_size=1, max_size=8))
def _flipped_bytes(name, flips):
    data = bytearray(base_bytes(name))
    for where, mask in flips:
        data[min(int(where * len(data)), len(data) - 1)] ^= mask
    with_file(bytes(data), lambda path: None)


def objects(f: h5py.File) -> list:
    names = []
    f.visit(names.append)
    return sorted(names)


def attributes(f: h5py.File) -> list:
    found = [("/", k) for k in f.attrs]
    f.visititems(lambda name, obj: found.extend((name, k) for k in obj.attrs))
    return sorted(found)


REPLACEMENTS = {
    "string": lambda old: np.bytes_("x"),
    "float": lambda old: np.float64(0.5),
    "int": lambda old: np.int64(-3),
    "bool": lambda old: np.bool_(True),
    "empty": lambda old: np.zeros((0,)),
    "nan": lambda old: np.full(np.shape(old), np.nan),
    "swapped": lambda old: np.asarray(old).T.copy() if np.ndim(old) > 1 else np.flip(old).copy(),
    "reshaped": lambda old: np.asarray(old).reshape(-1),
    "extra_dim": lambda old: np.asarray(old)[None],
}


@given(name=st.sampled_from(BASES), data=st.data())
def _deleted_or_retyped_datasets_and_groups(name, data):
    action = data.draw(st.sampled_from(["delete"] + sorted(REPLACEMENTS)))

    def mutate(path):
        with h5py.File(path, "r+") as f:
            target = data.draw(st.sampled_from(objects(f)))
            obj = f[target]
            old = obj[()] if isinstance(obj, h5py.Dataset) else np.zeros(2)
            del f[target]
            if action != "delete":
                f.create_dataset(target, data=REPLACEMENTS[action](old))

    with_file(base_bytes(name), mutate)


@given(name=st.sampled_from([b for b in BASES if not b.startswith("plain:")]), data=st.data())
def _deleted_or_retyped_attributes(name, data):
    action = data.draw(st.sampled_from(["delete"] + sorted(REPLACEMENTS)))

    def mutate(path):
        with h5py.File(path, "r+") as f:
            where, key = data.draw(st.sampled_from(attributes(f)))
            attrs = f[where].attrs
            old = attrs[key]
            del attrs[key]
            if action != "delete":
                attrs[key] = REPLACEMENTS[action](old if not isinstance(old, str) else np.zeros(1))

    with_file(base_bytes(name), mutate)


@pytest.mark.parametrize("budget", BUDGETS)
def test_truncated_files(budget):
    fuzz(_truncated_files, budget)


@pytest.mark.parametrize("budget", BUDGETS)
def test_flipped_bytes(budget):
    fuzz(_flipped_bytes, budget)


@pytest.mark.parametrize("budget", BUDGETS)
def test_deleted_or_retyped_datasets_and_groups(budget):
    fuzz(_deleted_or_retyped_datasets_and_groups, budget)


@pytest.mark.parametrize("budget", BUDGETS)
def test_deleted_or_retyped_attributes(budget):
    fuzz(_deleted_or_retyped_attributes, budget)
