"""Benchmark of writing the server's common outbound objects in older TL layers.

Run from the repository root: ``python bench/layers_bench.py`` (``--quick`` for fewer runs).
The machine is printed first; every figure is the median of at least 5 timed runs.

What is timed: ``loopgram.tl.layers.serialize(obj, layer)`` for the two objects the server
sends most in the callback flow,

- ``updates`` holding one ``updateBotCallbackQuery`` and the presser's ``user``, and
- a bot's ``message`` with a 3x3 inline keyboard of callback buttons,

in layers 158, 198 and 227, against serialising the same objects for layer 229 (the object
model's own layout) in the same run, timed in alternation. The goal: layer 158 costs at most
1.5x layer 229. For reference it also prints the plain ``bytes(obj)`` and reading the
objects back (``loopgram.tl.layers.read``) in each layer.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

if importlib.util.find_spec("loopgram") is None:  # not installed: run from the source tree
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from _common import interleaved, per_op_seconds, print_machine

from loopgram.tl import TLObject, abcs, layers
from loopgram.tl import types as t

RUNS = 7
GOAL = 1.5


def interleaved_medians(
    reference: Callable[[], object], candidate: Callable[[], object], runs: int
) -> tuple[float, float, float]:
    """Median seconds of reference and candidate, and the median per-run ratio cand/ref."""
    ref_s, cand_s = interleaved(reference, candidate, runs)
    ratios = [c / r for r, c in zip(ref_s, cand_s, strict=True)]
    return statistics.median(ref_s), statistics.median(cand_s), statistics.median(ratios)


def callback_updates() -> t.Updates:
    """What a bot receives when a user presses a callback button (DESIGN.md: as ``updates``)."""
    presser = t.User(
        id=1_000_001,
        access_hash=-4_233_111_222_333_444_555,
        first_name="Alice",
        last_name="Example",
        username="alice",
        phone="15550001111",
        status=t.UserStatusOnline(expires=1_700_000_300),
        lang_code="en",
    )
    query = t.UpdateBotCallbackQuery(
        query_id=-7_777_123_456_789,
        user_id=presser.id,
        peer=t.PeerUser(user_id=presser.id),
        msg_id=42,
        chat_instance=5_123_456_789_012_345_678,
        data=b"vote:up:42",
    )
    return t.Updates(updates=[query], users=[presser], chats=[], date=1_700_000_000, seq=0)


def keyboard_message() -> t.Message:
    """A bot's message with a 3x3 inline keyboard of callback buttons."""
    rows: list[abcs.KeyboardInlineButtonRow] = [
        t.KeyboardInlineButtonRow(
            buttons=[
                t.KeyboardInlineButton(
                    text=f"Option {r}{c}",
                    type=t.InlineButtonTypeCallback(data=f"pick:{r}:{c}".encode()),
                )
                for c in range(3)
            ]
        )
        for r in range(3)
    ]
    return t.Message(
        id=42,
        from_id=t.PeerUser(user_id=2_000_002),
        peer_id=t.PeerUser(user_id=1_000_001),
        date=1_700_000_000,
        message="Pick one of the options below.",
        reply_markup=t.ReplyInlineMarkup(rows=rows),
    )


def machine() -> None:
    print_machine()
    print()


def bench(runs: int) -> bool:
    objects: dict[str, TLObject] = {
        "updates(updateBotCallbackQuery, user)": callback_updates(),
        "message with 3x3 inline keyboard": keyboard_message(),
    }
    for layer in layers.SUPPORTED:
        layers.serialize(callback_updates(), layer)  # import each layer's module up front
    ok = True
    print(f"Serialising, microseconds per object (median of {runs} interleaved runs)")
    print(f"{'object':40}{'layer':>6}{'229 us':>10}{'layer us':>10}{'ratio':>8}")
    for label, obj in objects.items():
        for layer in (158, 198, 227):
            ref, cand, ratio = interleaved_medians(
                lambda o=obj: layers.serialize(o, 229),  # type: ignore[misc]
                lambda o=obj, n=layer: layers.serialize(o, n),  # type: ignore[misc]
                runs,
            )
            flag = ""
            if layer == 158:
                flag = "  ok" if ratio <= GOAL else f"  OVER the {GOAL}x goal"
                ok = ok and ratio <= GOAL
            print(f"{label:40}{layer:>6}{ref * 1e6:10.2f}{cand * 1e6:10.2f}{ratio:8.2f}{flag}")
        plain = per_op_seconds(lambda o=obj: bytes(o), runs)  # type: ignore[misc]
        print(f"{label:40}{'bytes':>6}{plain * 1e6:10.2f}")
    print()
    print(f"Reading back, microseconds per object (median of {runs} runs)")
    print(f"{'object':40}{'layer':>6}{'us':>10}")
    for label, obj in objects.items():
        for layer in layers.SUPPORTED:
            data = layers.serialize(obj, layer)
            s = per_op_seconds(lambda d=data, n=layer: layers.read(d, n), runs)  # type: ignore[misc]
            print(f"{label:40}{layer:>6}{s * 1e6:10.2f}")
    print()
    print(f"goal: layer 158 / layer 229 <= {GOAL}: {'met' if ok else 'NOT met'}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 runs instead of 7")
    args = parser.parse_args(argv)
    machine()
    bench(5 if args.quick else RUNS)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
