"""The rpc error hierarchy: one class per name of the table, by code otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

import loopgram.client._errors as generated
from loopgram.client import errors
from loopgram.client.errors import (
    BadRequestError,
    BotResponseTimeoutError,
    FloodError,
    FloodWaitError,
    QueryIdInvalidError,
    RpcError,
    ServerError,
    UnauthorizedError,
    rpc_error,
)
from loopgram.errors_table import ROWS


def test_generated_module_is_current() -> None:
    text = Path(generated.__file__).read_text(encoding="utf-8")
    assert text == errors.render(), "run: python -m loopgram.client.errors (then ruff format)"


@pytest.mark.parametrize(("code", "name", "description"), ROWS, ids=[r[1] for r in ROWS])
def test_every_row_has_its_class(code: int, name: str, description: str) -> None:
    cls = generated.BY_NAME[name]
    assert cls.__name__ == errors.class_name(name)
    assert (cls.CODE, cls.NAME, cls.DESCRIPTION) == (code, name, description)
    message = name.replace("_X", "_7") if name.endswith("_X") else name
    error = rpc_error(code, message)
    assert type(error) is cls
    assert (error.code, error.message) == (code, message)
    assert description in str(error)


def test_names_the_brief_lists() -> None:
    for name in (
        "QueryIdInvalidError",
        "UrlInvalidError",
        "BotResponseTimeoutError",
        "UserBotRequiredError",
        "MessageTooLongError",
        "DataInvalidError",
        "FloodWaitError",
        "AuthKeyUnregisteredError",
    ):
        assert issubclass(getattr(errors, name), RpcError)
    assert issubclass(QueryIdInvalidError, BadRequestError)
    assert issubclass(BotResponseTimeoutError, BadRequestError)
    assert issubclass(errors.AuthKeyUnregisteredError, UnauthorizedError)


def test_flood_wait_carries_seconds() -> None:
    error = rpc_error(420, "FLOOD_WAIT_17")
    assert isinstance(error, FloodWaitError) and isinstance(error, FloodError)
    assert error.seconds == 17 and error.value == 17


@pytest.mark.parametrize(
    ("code", "message", "cls"),
    [
        (400, "SOMETHING_NEW", BadRequestError),
        (401, "SESSION_REVOKED", UnauthorizedError),
        (420, "SLOWMODE_WAIT_5", FloodError),
        (500, "WHATEVER", ServerError),
        (777, "ODD", RpcError),
        (500, "QUERY_ID_INVALID", ServerError),  # a known name under another code
        (420, "FLOOD_WAIT_X1", FloodError),  # not a number
    ],
)
def test_unknown_names_map_by_code(code: int, message: str, cls: type[RpcError]) -> None:
    error = rpc_error(code, message)
    assert type(error) is cls
    assert (error.code, error.message) == (code, message)


def test_errors_pickle() -> None:
    import pickle

    error = pickle.loads(pickle.dumps(rpc_error(400, "QUERY_ID_INVALID")))
    assert isinstance(error, QueryIdInvalidError) and error.message == "QUERY_ID_INVALID"


def test_a_response_of_the_wrong_type_is_a_clear_error_not_an_assert() -> None:
    from loopgram.client._error_base import UnexpectedResponseError, expect
    from loopgram.tl.types import updates as upd_types
    from loopgram.tl.types.messages import BotCallbackAnswer

    answer = BotCallbackAnswer(cache_time=0)
    assert expect(answer, BotCallbackAnswer) is answer
    with pytest.raises(
        UnexpectedResponseError, match="expected State from the server, got BotCallbackAnswer"
    ):
        expect(answer, upd_types.State)
