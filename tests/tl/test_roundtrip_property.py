"""Property: every constructor and function of layer 229 reads back as the object written."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import loopgram.tl as tl
from tests.tl.strategies import api, filled, obj

CONSTRUCTORS = api().constructors
FUNCTIONS = api().functions


@pytest.mark.parametrize("chunk", range(8))
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_every_constructor_reads_back_as_written(chunk: int, data: st.DataObject) -> None:
    # Eight chunks of the schema, so every constructor is drawn many times over the run.
    pool = CONSTRUCTORS[chunk::8]
    c = data.draw(st.sampled_from(pool))
    x = data.draw(obj(c))
    assert tl.read(bytes(x)) == x


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_every_function_reads_back_as_written(data: st.DataObject) -> None:
    c = data.draw(st.sampled_from(FUNCTIONS))
    x = data.draw(obj(c))
    assert tl.read(bytes(x)) == x


@pytest.mark.parametrize("optional", [False, True], ids=["required", "all-fields"])
def test_every_combinator_filled_deterministically_reads_back(optional: bool) -> None:
    for c in CONSTRUCTORS + FUNCTIONS:
        x = filled(c, optional=optional)
        assert tl.read(bytes(x)) == x, c.name
