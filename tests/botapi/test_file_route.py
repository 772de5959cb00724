"""Bot API file downloads, ``/file/bot<token>/<file_path>``, and ``getFile``, over HTTP: as
the official server, an unknown token is 401 and a path without a file 404. loopgram keeps
no files yet, so every path of a known bot is missing and no ``file_id`` is valid."""

from __future__ import annotations

import pytest

from .conftest import Api


async def _get(api: Api, path: str) -> tuple[int, object]:
    async with api.http.get(f"{api.base}{path}") as response:
        assert response.content_type == "application/json"
        return response.status, await response.json()


@pytest.mark.parametrize("path", ["photos/file_0.jpg", "documents/a/b.txt", "x"])
async def test_a_known_bots_missing_file_is_404_not_found(api: Api, path: str) -> None:
    status, body = await _get(api, f"/file/bot{api.token}/{path}")
    assert (status, body) == (404, {"ok": False, "error_code": 404, "description": "Not Found"})


@pytest.mark.parametrize("token", ["123:nope", "garbage", ""])
async def test_an_unknown_token_is_401_unauthorized(api: Api, token: str) -> None:
    status, body = await _get(api, f"/file/bot{token}/photos/file_0.jpg")
    assert (status, body) == (
        401,
        {"ok": False, "error_code": 401, "description": "Unauthorized"},
    )


async def test_a_wrong_secret_of_a_real_bot_is_401(api: Api) -> None:
    bot_id = api.token.split(":")[0]
    status, _ = await _get(api, f"/file/bot{bot_id}:wrong-secret/photos/file_0.jpg")
    assert status == 401


async def test_file_paths_without_a_file_part_are_plain_404s(api: Api) -> None:
    for path in (f"/file/bot{api.token}/", f"/file/bot{api.token}", "/file/", "/files/x"):
        status, body = await _get(api, path)
        assert (status, body) == (
            404,
            {"ok": False, "error_code": 404, "description": "Not Found"},
        ), path


async def test_the_method_routes_still_answer_beside_the_file_route(api: Api) -> None:
    me = await api.ok("getMe")
    assert me["username"] == "examplebot"


async def test_get_file_answers_with_the_official_texts(api: Api) -> None:
    status, body = await api.call("getFile", file_id="AgACAgIAAxkBAAIBY2Z")
    assert (status, body["description"]) == (400, "Bad Request: invalid file_id")
    status, body = await api.call("getFile")
    assert (status, body["description"]) == (400, "Bad Request: file_id not specified")


async def test_get_file_with_an_unknown_token_is_401(api: Api) -> None:
    async with api.http.post(f"{api.base}/bot1:x/getFile", json={"file_id": "a"}) as response:
        assert response.status == 401
