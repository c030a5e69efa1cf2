"""``percept track`` (run a tracker over det.txt) and ``percept eval-tracks`` (HOTA/MOTA/IDF1)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from cli.common import console, fail
from perception.tracking import DEFAULT_TRACKER, TRACKERS


def track(
    seq_dir: Path = typer.Argument(..., help="Sequence folder with det/det.txt and seqinfo.ini."),
    tracker: str = typer.Option(DEFAULT_TRACKER, "--tracker", help=f"One of: {', '.join(sorted(TRACKERS))}."),
    out: Path = typer.Option(..., "--out", help="MOTChallenge results file to write."),
    as_json: bool = typer.Option(
        False, "--json", help="End with one JSON line: frames, update_seconds, update_hz."
    ),
) -> None:
    """Track the detections of one MOTChallenge sequence and write MOTChallenge results."""
    from perception.data.mot import read_seqinfo, write_mot
    from perception.eval.tracking import track_sequence
    from perception.tracking import make_tracker

    if tracker not in TRACKERS:
        fail(f"unknown tracker {tracker!r}; choose one of {', '.join(sorted(TRACKERS))}")
    if not (seq_dir / "det" / "det.txt").is_file():
        fail(f"{seq_dir / 'det' / 'det.txt'} does not exist: a sequence folder needs det/det.txt")
    try:
        info = read_seqinfo(seq_dir)
        records, stats = track_sequence(seq_dir, make_tracker(tracker, frame_rate=info.frame_rate))
        write_mot(out, records)
    except (ValueError, OSError) as exc:
        fail(str(exc))
    console.print(
        f"{tracker}: {stats.frames} frames, {stats.update_seconds:.4f} s in update "
        f"({stats.update_hz:,.0f} Hz), {len(records)} boxes -> {out}"
    )
    if as_json:
        print(json.dumps(stats.as_dict()))


def eval_tracks(
    gt_root: Path = typer.Option(..., "--gt-root", help="Sequences with gt/gt.txt and seqinfo.ini."),
    results: Path = typer.Option(..., "--results", help="Folder with <sequence>.txt results."),
    as_json: bool = typer.Option(False, "--json", help="End with one JSON line of the results."),
) -> None:
    """HOTA, MOTA, IDF1 and ID switches per sequence and combined (TrackEval, class-agnostic).

    Evaluates the sequences of GT_ROOT that have a results file; the others are listed as skipped.
    """
    from rich.table import Table

    from cli.common import err_console
    from perception.eval.tracking import evaluate_tracking

    if not results.is_dir():
        fail(f"{results} is not a folder of <sequence>.txt results")
    if not gt_root.is_dir():
        fail(f"{gt_root} is not a folder of sequences")
    with_gt = sorted(p.name for p in gt_root.iterdir() if (p / "gt" / "gt.txt").is_file())
    sequences = [s for s in with_gt if (results / f"{s}.txt").is_file()]
    if not sequences:
        fail(f"nothing to evaluate: none of the {len(with_gt)} sequences in {gt_root} has a result")
    skipped = sorted(set(with_gt) - set(sequences))
    if skipped:
        err_console.print(f"skipped (no results): {', '.join(skipped)}")
    try:
        scores = evaluate_tracking(gt_root, results, sequences=sequences)
    except ValueError as exc:
        fail(str(exc))
    table = Table("sequence", "HOTA", "MOTA", "IDF1", "IDSW", title="tracking accuracy (%)")
    for seq, s in scores.items():
        style = "bold" if seq == "COMBINED" else None
        cells = [f"{s[m]:.1f}" for m in ("HOTA", "MOTA", "IDF1")] + [f"{s['IDSW']:.0f}"]
        table.add_row(seq, *cells, style=style)
    console.print(table)
    if as_json:
        print(json.dumps(scores))


def register(app: typer.Typer) -> None:
    app.command("track")(track)
    app.command("eval-tracks")(eval_tracks)
